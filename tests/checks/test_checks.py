#!/usr/bin/env python3
# Usage: test_checks.py NM CC AR - runs the checks of this folder on small made-up trees and libraries.
"""The checks must pass on a tree that keeps their rules and name exactly what breaks them:
include_cycles.py on a made-up src/ with and without a cycle, exported_names.py on a library
built here from small files (one exporting a helper without the prefix), and one with no
ferry_ symbol at all, which is refused as not the library or not readable."""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run(script, *args):
    p = subprocess.run([sys.executable, os.path.join(HERE, script), *args],
                       capture_output=True, text=True)
    return p.returncode, p.stdout


def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def expect(what, got, want):
    if got != want:
        sys.stderr.write(f"{what}:\n--- want\n{want}\n--- got\n{got}\n")
        raise SystemExit(1)


def layered_folders_pass_and_a_cycle_is_named(tmp):
    src = os.path.join(tmp, "src")
    write(src, "util/buf.h", "")
    write(src, "store/store.h", '#include "util/buf.h"\n')
    write(src, "sync/run.c", '#include "sync/run.h"\n#include "store/store.h"\n')
    write(src, "sync/run.h", "")
    rc, out = run("include_cycles.py", src)
    expect("layered tree", (rc, out), (0, "no include cycle between the 3 folders of src/\n"))
    write(src, "util/buf.c", '#include "util/buf.h"\n\n  #  include "sync/run.h" /* x */\n')
    rc, out = run("include_cycles.py", src)
    want = """1 include cycle(s) between the folders of src/; break each by removing one of its edges \
(move the shared declaration down a layer, or pass it in):

store -> util -> sync -> store
  store -> util:
    store/store.h:1: #include "util/buf.h"
  util -> sync:
    util/buf.c:3: #  include "sync/run.h" /* x */
  sync -> store:
    sync/run.c:2: #include "store/store.h"
"""
    expect("cycle", (rc, out), (1, want))


def unprefixed_exports_are_listed_by_file(tmp, nm, cc, ar):
    objdir = os.path.join(tmp, "CMakeFiles", "demo.dir", "src", "a")
    os.makedirs(objdir)
    write(tmp, "good.c", "static int helper(void) { return 1; }\n"
                         "int ferry_a_get(void) { return helper(); }\n")
    write(tmp, "bad.c", "int ferry_a_set(int x);\nint oom(void);\nint counter;\n"
                        "int oom(void) { return counter; }\nint ferry_a_set(int x) { return x; }\n")
    write(tmp, "empty.c", "static int helper(void) { return 1; }\n")
    lib = os.path.join(tmp, "libdemo.a")
    for name in ("empty", "good", "bad"):
        subprocess.run([cc, "-c", "-o", os.path.join(objdir, name + ".c.o"),
                        os.path.join(tmp, name + ".c")], check=True)
    subprocess.run([ar, "qc", lib, os.path.join(objdir, "empty.c.o")], check=True)
    rc, out = run("exported_names.py", nm, lib)
    expect("a library nm shows nothing of", rc, 2)
    subprocess.run([ar, "qc", lib, os.path.join(objdir, "good.c.o")], check=True)
    rc, out = run("exported_names.py", nm, lib)
    expect("prefixed library", (rc, out),
           (0, "every symbol libdemo.a exports starts with ferry_\n"))
    subprocess.run([ar, "qc", lib, os.path.join(objdir, "bad.c.o")], check=True)
    rc, out = run("exported_names.py", nm, lib)
    expect("unprefixed symbols", (rc, out),
           (1, "2 symbol(s) libdemo.a exports without the ferry_ prefix (make each static, or "
               "name it ferry_<module>_...):\n  src/a/bad.c (2): counter oom\n"))


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: test_checks.py NM CC AR\n")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        layered_folders_pass_and_a_cycle_is_named(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        unprefixed_exports_are_listed_by_file(tmp, *argv[1:])
    print("the checks pass on clean inputs and name what breaks their rules")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
