#!/usr/bin/python3
"""Ferry's look-up benchmark: a child step with a look-up against the same step without it.

A sync of two steps into Rails-shaped SQLite tables with a real foreign key: brands (1,000
rows: code, name) and packages (N rows: code, name, price, brand). In the look-up run the
packages step writes brand_id by looking the row's brand code up in brands
(`lookup: {table: brands, match: code}`); in the baseline run the same file carries the
brand's id in a column of its own, which the step writes as it is, so both runs write the same
rows and differ only by the look-up. Each is timed on a fresh database (tables created before
the run, not timed) for the initial load and for a second run of the same files (all
unchanged), --repeat times, alternately; the medians are reported with the ratio
baseline / look-up (1.0 means the look-up costs nothing), and the peak RSS of each.

After every run the packages table is checked: its row count and, for a sample of rows, that
brand_id names the brand the file names. Prints figures and asserts no speed.
"""
import argparse
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

BRANDS = 1000

SCHEMA = """
CREATE TABLE brands (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, code varchar NOT NULL,
  name varchar NOT NULL, created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL);
CREATE UNIQUE INDEX index_brands_on_code ON brands (code);
CREATE TABLE packages (id integer PRIMARY KEY AUTOINCREMENT NOT NULL, code varchar NOT NULL,
  name varchar NOT NULL, price decimal(10,2), brand_id integer NOT NULL REFERENCES brands (id),
  created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL);
CREATE UNIQUE INDEX index_packages_on_code ON packages (code);
CREATE INDEX index_packages_on_brand_id ON packages (brand_id);
"""

CONFIG = """database: sqlite:ferry.db
files_dir: {dir}
syncs:
  catalog:
    steps:
      brands:
        source: {{ url: {dir}/brands.csv }}
        target: {{ table: brands, key: code, timestamps: {{ created: created_at, updated: updated_at }} }}
        fields:
          code: {{ column: Code, required: true }}
          name: {{ column: Name, required: true }}
      packages:
        source: {{ url: {dir}/packages.csv }}
        target: {{ table: packages, key: code, timestamps: {{ created: created_at, updated: updated_at }} }}
        fields:
          code:     {{ column: Code, required: true }}
          name:     {{ column: Name, required: true }}
          price:    {{ column: Price, type: decimal }}
          brand_id: {brand_id}
"""

WITH_LOOKUP = "{ column: Brand, type: integer, lookup: { table: brands, match: code } }"
WITHOUT = "{ column: Brand ID, type: integer }"


def generate(d, n):
    """brands.csv (ids 1..BRANDS in file order, as the first run creates them) and
    packages.csv; returns {package code: brand code} for a sample of rows."""
    rng = random.Random(7)
    with open(os.path.join(d, "brands.csv"), "w") as f:
        f.write("Code,Name\n")
        for b in range(1, BRANDS + 1):
            f.write("BR-%04d,Brand %d\n" % (b, b))
    sample = {}
    with open(os.path.join(d, "packages.csv"), "w") as f:
        f.write("Code,Name,Price,Brand,Brand ID\n")
        for i in range(1, n + 1):
            b = rng.randrange(1, BRANDS + 1)
            f.write("PK-%07d,Package %d,%d.%02d,BR-%04d,%d\n" %
                    (i, i, 100 + i % 900, i % 100, b, b))
            if i % max(1, n // 50) == 0:
                sample["PK-%07d" % i] = "BR-%04d" % b
    return sample


def timed(cmd, cwd):
    start = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - start
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("command failed: %s" % " ".join(cmd))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return elapsed, int(m.group(1)) if m else 0, p.stdout


def check(db, n, sample, out, created):
    want = ("Processed %d brands: %d created" % (BRANDS, BRANDS if created else 0),
            "Processed %d packages: %d created, 0 updated, %d unchanged, 0 skipped, 0 failed" %
            (n, n if created else 0, 0 if created else n))
    for w in want:
        if w not in out:
            raise SystemExit("ferry reported %r, expected %r" % (out.strip(), w))
    con = sqlite3.connect(db)
    try:
        total = con.execute("SELECT count(*) FROM packages").fetchone()[0]
        got = dict(con.execute(
            "SELECT p.code, b.code FROM packages p JOIN brands b ON b.id = p.brand_id"
            " WHERE p.code IN (%s)" % ",".join("?" * len(sample)), list(sample)).fetchall())
    finally:
        con.close()
    if total != n or got != sample:
        raise SystemExit("packages: %d rows (want %d), sample %s" %
                         (total, n, "ok" if got == sample else "wrong"))


def run_once(ferry, base, n, sample, variant, k):
    d = os.path.join(base, "%s-%d" % (variant, k))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    db = os.path.join(d, "ferry.db")
    con = sqlite3.connect(db)
    con.executescript(SCHEMA)
    con.close()
    with open(os.path.join(d, "ferry.yaml"), "w") as f:
        f.write(CONFIG.format(dir=base, brand_id=WITH_LOOKUP if variant == "lookup" else WITHOUT))
    cmd = [ferry, "sync", "catalog", "--config", os.path.join(d, "ferry.yaml")]
    t1, r1, out = timed(cmd, d)
    check(db, n, sample, out, True)
    t2, r2, out = timed(cmd, d)
    check(db, n, sample, out, False)
    shutil.rmtree(d)
    return t1, t2, max(r1, r2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ferry = os.path.abspath(args.ferry)
    base = tempfile.mkdtemp(prefix="ferry-bench-lookup-")
    res = {"lookup": ([], [], []), "plain": ([], [], [])}
    try:
        sample = generate(base, args.rows)
        for k in range(args.repeat):
            for variant in ("plain", "lookup"):
                t1, t2, rss = run_once(ferry, base, args.rows, sample, variant, k)
                res[variant][0].append(t1)
                res[variant][1].append(t2)
                res[variant][2].append(rss)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    med = {v: (statistics.median(r[0]), statistics.median(r[1]), max(r[2]))
           for v, r in res.items()}
    print("Ferry look-up benchmark: %d brands, then %d packages with brand_id, median of %d runs"
          % (BRANDS, args.rows, args.repeat))
    for i, what in enumerate(("initial load", "second run (unchanged)")):
        p, l = med["plain"][i], med["lookup"][i]
        print("  %-24s without look-up %6.2f s, with look-up %6.2f s: %.2fx" %
              (what, p, l, p / l if l > 0 else 0.0))
    print("  peak RSS                 without %.1f MiB, with %.1f MiB" %
          (med["plain"][2] / 1024, med["lookup"][2] / 1024))
    print("  all runs (s): without %s / %s, with %s / %s" %
          ([round(x, 2) for x in res["plain"][0]], [round(x, 2) for x in res["plain"][1]],
           [round(x, 2) for x in res["lookup"][0]], [round(x, 2) for x in res["lookup"][1]]))


if __name__ == "__main__":
    main()
