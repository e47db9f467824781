#!/usr/bin/env python3
# Usage: exported_names.py NM LIBRARY - fails, listing them by file, when LIBRARY exports a symbol not named ferry_*.
"""Every function or variable another file may use is named ferry_<module>_... (docs/architecture.md,
"Checks"); a helper used in one file is static, so it is not in the library's symbol table at
all. This check runs `NM -g --defined-only` on the core library (libferrycore.a) and lists
every defined global symbol whose name does not start with ferry_, grouped by the source file
that defines it. Names the compiler itself adds (starting with "__" or ".") are not Ferry's and
are ignored. Exit status 1 when there is such a symbol, 0 otherwise.

The fix for each listed name: make it static when only its own file uses it, or give it the
ferry_<module>_ prefix (and rename its callers) when other files do."""

import glob
import os
import subprocess
import sys


def defined_globals(nm, paths):
    """[(archive member or object, symbol)] of the symbols the archives or objects in paths
    define globally."""
    out = subprocess.run([nm, "-g", "--defined-only", *paths], check=True,
                         capture_output=True, text=True).stdout
    member, syms = paths[0], []
    for line in out.splitlines():
        if line.endswith(":") and " " not in line:
            member = line[:-1]
        elif line.strip():
            syms.append((member, line.split()[-1]))
    return syms


def source_names(nm, library):
    """{(member, symbol): source file} from the library's objects in the build tree, which
    keep the folder an archive member's name has lost (src/config/source.c, src/source/source.c
    are both "source.c.o" in the archive)."""
    name = os.path.basename(library)
    target = name[3:-2] if name.startswith("lib") and name.endswith(".a") else name
    objdir = os.path.join(os.path.dirname(library), "CMakeFiles", target + ".dir")
    objs = sorted(glob.glob(os.path.join(objdir, "**", "*.o"), recursive=True))
    where = {}
    for obj, sym in defined_globals(nm, objs) if objs else []:
        rel = os.path.relpath(obj, objdir)
        where[(os.path.basename(obj), sym)] = rel[:-2] if rel.endswith(".c.o") else rel
    return where


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: exported_names.py NM LIBRARY\n")
        return 2
    nm, library = argv[1], argv[2]
    syms = defined_globals(nm, [library])
    if not any(s.startswith("ferry_") for _, s in syms):
        # An LTO build's objects hold no symbols nm can see without the compiler's plugin.
        print(f"{nm} sees no ferry_ symbol in {library}: is it the library, and can {nm} read "
              "its objects?")
        return 2
    bad = [(m, s) for m, s in syms
           if not s.startswith("ferry_") and not s.startswith(("__", "."))]
    if not bad:
        print(f"every symbol {os.path.basename(library)} exports starts with ferry_")
        return 0
    where = source_names(nm, library)
    by_file = {}
    for member, sym in bad:
        by_file.setdefault(where.get((member, sym), member), []).append(sym)
    print(f"{len(bad)} symbol(s) {os.path.basename(library)} exports without the ferry_ prefix "
          "(make each static, or name it ferry_<module>_...):")
    for file in sorted(by_file):
        print(f"  {file} ({len(by_file[file])}): {' '.join(sorted(by_file[file]))}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
