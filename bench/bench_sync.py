#!/usr/bin/python3
"""Ferry's sync benchmark: initial load and second version against sqlite3's .import.

Generates a deterministic roster CSV (9 columns) of N rows and a second version of it (about
5% of rows changed, 1% new, 1% invalid), then, in the same run:

  baseline  sqlite3 .import of the first file into a table created with
            employee_id TEXT PRIMARY KEY (so both sides maintain the same index)
  initial   ferry sync into an empty database
  second    ferry sync of the second version into the result of `initial`

Each is repeated --repeat times on fresh copies; the medians are reported as rows/s, with the
ratio to the baseline and Ferry's peak RSS (from /usr/bin/time -v). A smaller run (--small
rows, default 100k) measures peak RSS again, to show memory does not grow with the input.

Prints figures and asserts no speed, since these machines are shared and noisy; it does
check that every Ferry run reports the outcomes the files call for, and stops if not.
"""
import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HEADER = ["Employee ID", "Name", "Email", "Phone", "Employment Type", "Location",
          "Start Date", "Active", "Hourly Rate"]
CITIES = ["Jakarta Selatan", "Jakarta Pusat", "Bandung", "Surabaya", "Depok", "Bekasi",
          "Tangerang", "Bogor", "Medan", "Denpasar"]
FIRST = ["Ayu", "Budi", "Citra", "Dian", "Eka", "Fajar", "Gita", "Hadi", "Indah", "Joko"]
LAST = ["Lestari", "Santoso", "Dewi", "Pratama", "Putri", "Nugroho", "Maharani", "Wijaya"]

CONFIG = """database: sqlite:ferry.db
files_dir: {csvdir}
syncs:
  roster:
    title: Roster
    noun: employees
    source: {{ url: {csv} }}
    target: {{ table: roster, key: [employee_id], on_missing: keep }}
    fields:
      employee_id: {{ column: Employee ID, required: true }}
      name:        {{ column: Name, required: true }}
      email:       {{ column: Email, type: email, required: true }}
      phone:       {{ column: Phone }}
      employment:  {{ column: Employment Type, type: enum, values: [Karyawan, Freelance] }}
      location:    {{ column: Location }}
      start_date:  {{ column: Start Date, type: date }}
      active:      {{ column: Active, type: boolean }}
      hourly_rate: {{ column: Hourly Rate, type: decimal }}
"""


def config(csv):
    """The benchmark's ferry.yaml for csv (local files are read only inside files_dir)."""
    return CONFIG.format(csv=csv, csvdir=os.path.dirname(os.path.abspath(csv)))


def row_for(i, rng):
    first = FIRST[i % len(FIRST)]
    last = LAST[(i // 10) % len(LAST)]
    return [
        "E%07d" % i,
        "%s %s" % (first, last),
        "%s.%s%d@example.com" % (first.lower(), last.lower(), i),
        "+62 812 %04d %04d" % (rng.randrange(10000), i % 10000),
        "Freelance" if i % 97 == 0 else "Karyawan",
        CITIES[i % len(CITIES)],
        "20%02d-%02d-%02d" % (10 + i % 14, 1 + i % 12, 1 + i % 28),
        "yes" if i % 13 else "no",
        "%d.%02d" % (50 + i % 150, i % 100),
    ]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        f.write(",".join(HEADER) + "\r\n")
        for r in rows:
            f.write(",".join('"%s"' % c if "," in c else c for c in r) + "\r\n")


def generate(dirpath, n, removed=0.0):
    """The first version (n rows) and the second: about 5% changed, 1% invalid, removed (a
    share, after those) left out, 1% new. Deterministic. Returns both paths and row counts."""
    return generate_with_outcomes(dirpath, n, removed)[:4]


def generate_with_outcomes(dirpath, n, removed=0.0):
    """generate(), and the outcomes a sync of the second version onto the first must report
    (on_missing: keep), as a dict: created, updated, unchanged, skipped, failed."""
    rng = random.Random(42)
    first = [row_for(i, rng) for i in range(1, n + 1)]
    v1 = os.path.join(dirpath, "roster-v1.csv")
    write_csv(v1, first)
    rng2 = random.Random(7)
    second = []
    outcomes = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    for r in first:
        old, r = r, list(r)
        x = rng2.random()
        if x < 0.05:
            r[3] = "+62 813 %04d %04d" % (rng2.randrange(10000), rng2.randrange(10000))
        elif x < 0.06:
            r[2] = "not-an-email"
        elif x < 0.06 + removed:
            continue
        second.append(r)
        outcomes["failed" if r[2] == "not-an-email" else
                 "unchanged" if r == old else "updated"] += 1
    for i in range(n + 1, n + 1 + n // 100):
        second.append(row_for(i, rng2))
        outcomes["created"] += 1
    v2 = os.path.join(dirpath, "roster-v2.csv")
    write_csv(v2, second)
    return v1, v2, len(first), len(second), outcomes


def check_outcomes(output, want):
    """Exits when the sync's summary line (on its output) does not report want's counts: a
    benchmark of a wrong result measures nothing."""
    m = re.search(r"Processed \d+ \w+: (\d+) created, (\d+) updated, (\d+) unchanged, "
                  r"(\d+) skipped, (\d+) failed", output)
    got = dict(zip(("created", "updated", "unchanged", "skipped", "failed"),
                   (int(x) for x in m.groups()))) if m else None
    if got != want:
        raise SystemExit("ferry reported %s, the files call for %s" % (got, want))


def timed(cmd, cwd=None, stdin=None, want=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in KiB). With want, the
    command is a sync, whose reported outcomes are checked against it (check_outcomes)."""
    start = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=cwd, stdin=stdin,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - start
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("command failed: %s" % " ".join(cmd))
    if want is not None:
        check_outcomes(p.stdout, want)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return elapsed, int(m.group(1)) if m else 0


def sqlite_import(workdir, csv):
    db = os.path.join(workdir, "import.db")
    if os.path.exists(db):
        os.remove(db)
    schema = ("CREATE TABLE roster (employee_id TEXT PRIMARY KEY, name TEXT, email TEXT,"
              " phone TEXT, employment TEXT, location TEXT, start_date TEXT, active TEXT,"
              " hourly_rate TEXT);")
    subprocess.run(["sqlite3", db, schema], check=True)
    script = os.path.join(workdir, "import.sql")
    with open(script, "w") as f:
        f.write(".mode csv\n.import --skip 1 %s roster\n" % csv)
    with open(script) as f:
        return timed(["sqlite3", db], stdin=f)[0]


def ferry_sync(ferry, workdir, want):
    return timed([ferry, "sync", "roster", "--config", os.path.join(workdir, "ferry.yaml")],
                 cwd=workdir, want=want)


def setup_ferry_dir(base, name, csv):
    d = os.path.join(base, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, "ferry.yaml"), "w") as f:
        f.write(config(csv))
    return d


def measure(ferry, base, n_rows, repeat):
    v1, v2, n1, n2, second = generate_with_outcomes(base, n_rows)
    first = {"created": n1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    imports, initials, seconds, rss = [], [], [], []
    for k in range(repeat):
        imports.append(sqlite_import(base, v1))
        d = setup_ferry_dir(base, "ferry-%d" % k, v1)
        t, r = ferry_sync(ferry, d, first)
        initials.append(t)
        rss.append(r)
        with open(os.path.join(d, "ferry.yaml"), "w") as f:
            f.write(config(v2))
        t, r = ferry_sync(ferry, d, second)
        seconds.append(t)
        rss.append(r)
        shutil.rmtree(d)
    return {
        "rows": n1, "rows2": n2,
        "import": statistics.median(imports),
        "initial": statistics.median(initials),
        "second": statistics.median(seconds),
        "rss_kib": max(rss),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--small", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ferry = os.path.abspath(args.ferry)
    base = tempfile.mkdtemp(prefix="ferry-bench-")
    try:
        big = measure(ferry, base, args.rows, args.repeat)
        small = measure(ferry, base, args.small, 1) if args.small < args.rows else big
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def rate(rows, secs):
        return rows / secs if secs > 0 else 0.0

    imp = rate(big["rows"], big["import"])
    ini = rate(big["rows"], big["initial"])
    sec = rate(big["rows2"], big["second"])
    print("Ferry sync benchmark: %d rows, 9 columns, median of %d runs" %
          (big["rows"], args.repeat))
    print("  %-34s %10.0f rows/s  (%.2f s)" % ("baseline sqlite3 .import (keyed)", imp,
                                               big["import"]))
    print("  %-34s %10.0f rows/s  (%.2f s)  %.2fx baseline" %
          ("ferry initial load", ini, big["initial"], ini / imp))
    print("  %-34s %10.0f rows/s  (%.2f s)  %.2fx baseline" %
          ("ferry second version (%d rows)" % big["rows2"], sec, big["second"], sec / imp))
    print("  %-34s %10.1f MiB at %d rows, %.1f MiB at %d rows (ratio %.2f)" %
          ("ferry peak RSS", big["rss_kib"] / 1024, big["rows"], small["rss_kib"] / 1024,
           small["rows"], big["rss_kib"] / max(small["rss_kib"], 1)))


if __name__ == "__main__":
    main()
