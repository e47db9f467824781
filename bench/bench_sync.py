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

With --app-table, the same runs target an app-shaped table instead of the one Ferry creates:
a 6-column roster (Employee ID, Name, Email, Active, Salary, Started On; the same mix in its
second version, the changed rows getting a new salary or the other active flag) into

  CREATE TABLE roster (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    employee_id varchar NOT NULL, name varchar, email varchar, active boolean,
    salary decimal(10,2), started_on date,
    created_at datetime(6) NOT NULL, updated_at datetime(6) NOT NULL);
  CREATE UNIQUE INDEX index_roster_on_employee_id ON roster (employee_id);

(what a Rails migration makes), created before each run and not timed, with the sync's
target.timestamps on and its fields typed boolean, decimal and date. The baseline is one
sqlite3 process that creates a temporary table of 6 TEXT columns, .imports the file into it
and runs one INSERT INTO roster (...) SELECT ... FROM it, with active as
`active IN ('yes', 'true', '1')` and both timestamps strftime('%Y-%m-%d %H:%M:%f', 'now'),
so the table ends holding what Ferry's does (salary and started_on as the file spells them,
stored by the columns' affinity). After each Ferry run the table is checked: its row count,
how many rows have updated_at other than created_at (the second run's updated records, none
after the first), how many were created at the latest created_at (that run's created
records), and the values of a sample of rows (one in 40, and up to 20 changed, invalid and
new ones).

Prints figures and asserts no speed, since these machines are shared and noisy; it does
check that every Ferry run reports the outcomes the files call for, and stops if not.
"""
import argparse
import decimal
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

import results  # the figures for the targets table (bench/ is the script's folder)
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


def write_csv(path, rows, header=HEADER):
    with open(path, "w", newline="") as f:
        f.write(",".join(header) + "\r\n")
        for r in rows:
            f.write(",".join('"%s"' % c if "," in c else c for c in r) + "\r\n")


def change_phone(r, x, rng):
    """The roster's change: a new phone number."""
    r[3] = "+62 813 %04d %04d" % (rng.randrange(10000), rng.randrange(10000))


def generate(dirpath, n, removed=0.0):
    """The first version (n rows) and the second: about 5% changed, 1% invalid, removed (a
    share, after those) left out, 1% new. Deterministic. Returns both paths and row counts."""
    return generate_with_outcomes(dirpath, n, removed)[:4]


def generate_with_outcomes(dirpath, n, removed=0.0):
    """generate(), and the outcomes a sync of the second version onto the first must report
    (on_missing: keep), as a dict: created, updated, unchanged, skipped, failed."""
    v1, v2, first, second, outcomes = versions(dirpath, n, removed, HEADER, row_for,
                                               change_phone, "roster")
    return v1, v2, len(first), len(second), outcomes


def versions(dirpath, n, removed, header, make_row, change, name):
    """Writes NAME-v1.csv (n rows of make_row) and NAME-v2.csv: about 5% of the rows changed
    by change(row, x, rng) (x in [0, 0.05)), 1% with an invalid email (column 3), removed (a
    share, after those) left out, 1% new. Deterministic. Returns both paths, both lists of
    rows, and the outcomes a sync of the second onto the first must report (on_missing:
    keep)."""
    rng = random.Random(42)
    first = [make_row(i, rng) for i in range(1, n + 1)]
    v1 = os.path.join(dirpath, "%s-v1.csv" % name)
    write_csv(v1, first, header)
    rng2 = random.Random(7)
    second = []
    outcomes = {"created": 0, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    for r in first:
        old, r = r, list(r)
        x = rng2.random()
        if x < 0.05:
            change(r, x, rng2)
        elif x < 0.06:
            r[2] = "not-an-email"
        elif x < 0.06 + removed:
            continue
        second.append(r)
        outcomes["failed" if r[2] == "not-an-email" else
                 "unchanged" if r == old else "updated"] += 1
    for i in range(n + 1, n + 1 + n // 100):
        second.append(make_row(i, rng2))
        outcomes["created"] += 1
    v2 = os.path.join(dirpath, "%s-v2.csv" % name)
    write_csv(v2, second, header)
    return v1, v2, first, second, outcomes


APP_HEADER = ["Employee ID", "Name", "Email", "Active", "Salary", "Started On"]
APP_COLUMNS = ["employee_id", "name", "email", "active", "salary", "started_on"]

# The app-shaped table, as a Rails migration makes it on SQLite (t.string, t.boolean,
# t.decimal precision: 10, scale: 2, t.date, t.timestamps, a unique index on the key).
APP_SCHEMA = ("CREATE TABLE roster (id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,"
              " employee_id varchar NOT NULL, name varchar, email varchar, active boolean,"
              " salary decimal(10,2), started_on date, created_at datetime(6) NOT NULL,"
              " updated_at datetime(6) NOT NULL);"
              " CREATE UNIQUE INDEX index_roster_on_employee_id ON roster (employee_id);")

APP_CONFIG = """database: sqlite:ferry.db
files_dir: {csvdir}
syncs:
  roster:
    title: Roster
    noun: employees
    source: {{ url: {csv} }}
    target: {{ table: roster, key: [employee_id], on_missing: keep, timestamps: true }}
    fields:
      employee_id: {{ column: Employee ID, required: true }}
      name:        {{ column: Name, required: true }}
      email:       {{ column: Email, type: email, required: true }}
      active:      {{ column: Active, type: boolean }}
      salary:      {{ column: Salary, type: decimal }}
      started_on:  {{ column: Started On, type: date }}
"""


def app_config(csv):
    """The app-shaped scenario's ferry.yaml for csv."""
    return APP_CONFIG.format(csv=csv, csvdir=os.path.dirname(os.path.abspath(csv)))


def app_row_for(i, rng):
    """Row i of the app-shaped roster: the roster's key, name, email, active and start date,
    and a salary whose cents are often zero (5000.10, 5001.00), which a decimal column
    stores as a number."""
    r = row_for(i, rng)
    return [r[0], r[1], r[2], r[7], "%d.%02d" % (5000 + i % 15000, (i % 10) * 10), r[6]]


def change_app(r, x, rng):
    """The app-shaped roster's change: a new salary (4 in 5) or the active flag flipped."""
    if x < 0.04:
        r[4] = "%d.%02d" % (5000 + rng.randrange(15000), rng.randrange(100))
    else:
        r[3] = "no" if r[3] == "yes" else "yes"


def generate_app(dirpath, n, removed=0.0):
    """The app-shaped roster's two versions, with the mix of generate(). Returns a dict: v1,
    v2 (paths), n1, n2 (rows), outcomes (of syncing v2 onto v1, on_missing: keep), and
    expect1, expect2: {employee_id: row} for a sample of keys, what the table must hold after
    syncing v1, and then v2 (a sample of all rows, and of the changed, invalid and new)."""
    v1, v2, first, second, outcomes = versions(dirpath, n, removed, APP_HEADER, app_row_for,
                                               change_app, "app-roster")
    step = max(1, n // 40)
    expect1 = {r[0]: r for r in first[::step]}
    expect2 = dict(expect1)
    kinds = {"changed": 0, "invalid": 0, "new": 0}
    for r in second:
        i = int(r[0][1:])
        kind = ("new" if i > n else "invalid" if r[2] == "not-an-email" else
                "changed" if r != first[i - 1] else None)
        if kind and (r[0] in expect1 or kinds[kind] < 20):
            kinds[kind] += 1
            expect2[r[0]] = first[i - 1] if kind == "invalid" else r
    return {"v1": v1, "v2": v2, "n1": len(first), "n2": len(second), "outcomes": outcomes,
            "expect1": expect1, "expect2": expect2}


def check_app_table(rows, counts, expect, total, created, updated):
    """Exits unless the app-shaped table holds what it must. rows: (employee_id, name,
    email, active, salary, started_on) as text for expect's keys, active as 1/0 or t/f;
    counts: (rows, rows whose updated_at differs from created_at, rows created at the
    latest created_at). created and updated are the last run's outcomes."""
    want = (total, updated, created if created else counts[2])
    if tuple(counts) != want:
        raise SystemExit("app table: (rows, updated_at moved, created last) is %s, the files "
                         "call for %s" % (tuple(counts), want))
    got = {r[0]: r for r in rows}
    for key, w in sorted(expect.items()):
        g = got.get(key)
        ok = (g is not None and list(g[1:3]) == w[1:3] and
              (g[3] in ("1", "t")) == (w[3] == "yes") and g[3] in ("0", "1", "t", "f") and
              decimal.Decimal(g[4]) == decimal.Decimal(w[4]) and g[5] == w[5])
        if not ok:
            raise SystemExit("app table: row %s is %s, the files call for %s" % (key, g, w))


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


def app_import(workdir, csv):
    """The app-shaped baseline: sqlite3 .import of csv into a temporary table, then one
    INSERT INTO roster ... SELECT that fills the app-shaped table (created beforehand, not
    timed) with active as 1/0 and both timestamps set to the statement's time. Returns the
    seconds the sqlite3 process took."""
    db = os.path.join(workdir, "import.db")
    if os.path.exists(db):
        os.remove(db)
    subprocess.run(["sqlite3", db, APP_SCHEMA], check=True)
    script = os.path.join(workdir, "import.sql")
    now = "strftime('%Y-%m-%d %H:%M:%f', 'now')"
    with open(script, "w") as f:
        f.write("CREATE TEMP TABLE stage (%s);\n" % ", ".join("%s TEXT" % c for c in APP_COLUMNS))
        f.write(".mode csv\n.import --skip 1 --schema temp %s stage\n" % csv)
        f.write("INSERT INTO roster (%s, created_at, updated_at) SELECT employee_id, name, email,"
                " active IN ('yes', 'true', '1'), salary, started_on, %s, %s FROM stage;\n" %
                (", ".join(APP_COLUMNS), now, now))
    with open(script) as f:
        t = timed(["sqlite3", db], stdin=f)[0]
    n = subprocess.run(["sqlite3", db, "SELECT count(*) FROM roster"], check=True,
                       stdout=subprocess.PIPE, text=True).stdout.strip()
    if n != str(count_rows(csv)):
        raise SystemExit("baseline: the table holds %s rows, the file %d" % (n, count_rows(csv)))
    return t


def count_rows(csv):
    with open(csv, "rb") as f:
        return sum(1 for _ in f) - 1


def check_app_sqlite(db, expect, total, created, updated):
    """check_app_table() on the SQLite database db."""
    import sqlite3
    con = sqlite3.connect(db)
    try:
        keys = sorted(expect)
        rows = con.execute("SELECT %s FROM roster WHERE employee_id IN (%s)" %
                           (", ".join(APP_COLUMNS), ",".join("?" * len(keys))), keys).fetchall()
        counts = con.execute("SELECT count(*), count(*) FILTER (WHERE updated_at <> created_at),"
                             " count(*) FILTER (WHERE created_at = (SELECT max(created_at)"
                             " FROM roster)) FROM roster").fetchone()
    finally:
        con.close()
    rows = [tuple(str(v) for v in r) for r in rows]
    check_app_table(rows, counts, expect, total, created, updated)


def measure_app(ferry, base, n_rows, repeat):
    """measure() for the app-shaped table: the baseline is app_import(); after each Ferry
    run the table is checked (check_app_sqlite)."""
    g = generate_app(base, n_rows)
    n1, second = g["n1"], g["outcomes"]
    first = {"created": n1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    imports, initials, seconds, rss = [], [], [], []
    for k in range(repeat):
        imports.append(app_import(base, g["v1"]))
        d = setup_ferry_dir(base, "ferry-%d" % k, g["v1"])
        with open(os.path.join(d, "ferry.yaml"), "w") as f:
            f.write(app_config(g["v1"]))
        db = os.path.join(d, "ferry.db")
        subprocess.run(["sqlite3", db, APP_SCHEMA], check=True)
        t, r = ferry_sync(ferry, d, first)
        initials.append(t)
        rss.append(r)
        check_app_sqlite(db, g["expect1"], n1, n1, 0)
        with open(os.path.join(d, "ferry.yaml"), "w") as f:
            f.write(app_config(g["v2"]))
        t, r = ferry_sync(ferry, d, second)
        seconds.append(t)
        rss.append(r)
        check_app_sqlite(db, g["expect2"], n1 + second["created"], second["created"],
                         second["updated"])
        shutil.rmtree(d)
    return {
        "rows": n1, "rows2": g["n2"],
        "import": statistics.median(imports),
        "initial": statistics.median(initials),
        "second": statistics.median(seconds),
        "rss_kib": max(rss),
        "runs": (imports, initials, seconds),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--small", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--app-table", action="store_true",
                    help="sync into an app-shaped table (id, unique key, timestamps, native"
                         " types) instead of Ferry's own")
    args = ap.parse_args()
    ferry = os.path.abspath(args.ferry)
    run = measure_app if args.app_table else measure
    base = tempfile.mkdtemp(prefix="ferry-bench-")
    try:
        big = run(ferry, base, args.rows, args.repeat)
        small = run(ferry, base, args.small, 1) if args.small < args.rows else big
    finally:
        shutil.rmtree(base, ignore_errors=True)

    def rate(rows, secs):
        return rows / secs if secs > 0 else 0.0

    imp = rate(big["rows"], big["import"])
    ini = rate(big["rows"], big["initial"])
    sec = rate(big["rows2"], big["second"])
    if args.app_table:
        print("Ferry sync benchmark, app-shaped table: %d rows, 6 columns, median of %d runs" %
              (big["rows"], args.repeat))
        baseline = "baseline .import + INSERT SELECT"
    else:
        print("Ferry sync benchmark: %d rows, 9 columns, median of %d runs" %
              (big["rows"], args.repeat))
        baseline = "baseline sqlite3 .import (keyed)"
    print("  %-34s %10.0f rows/s  (%.2f s)" % (baseline, imp, big["import"]))
    print("  %-34s %10.0f rows/s  (%.2f s)  %.2fx baseline" %
          ("ferry initial load", ini, big["initial"], ini / imp))
    print("  %-34s %10.0f rows/s  (%.2f s)  %.2fx baseline" %
          ("ferry second version (%d rows)" % big["rows2"], sec, big["second"], sec / imp))
    print("  %-34s %10.1f MiB at %d rows, %.1f MiB at %d rows (ratio %.2f)" %
          ("ferry peak RSS", big["rss_kib"] / 1024, big["rows"], small["rss_kib"] / 1024,
           small["rows"], big["rss_kib"] / max(small["rss_kib"], 1)))
    if not args.app_table:
        # The smaller run's figures are named after the larger one too ("@10000000"): a 10M
        # run's 1M figures are not the 1M run's.
        for r, tag in ((big, ""), (small, "@%d" % big["rows"])) if small is not big else \
                ((big, ""),):
            results.record("sqlite.%d.initial_ratio%s" % (r["rows"], tag),
                           rate(r["rows"], r["initial"]) / rate(r["rows"], r["import"]))
            results.record("sqlite.%d.second_ratio%s" % (r["rows"], tag),
                           rate(r["rows2"], r["second"]) / rate(r["rows"], r["import"]))
            results.record("sqlite.%d.initial_s_per_row%s" % (r["rows"], tag),
                           r["initial"] / r["rows"])
            results.record("sqlite.%d.rss_mib%s" % (r["rows"], tag), r["rss_kib"] / 1024)
    if args.app_table:
        print("  all runs (s): import %s, initial %s, second %s" %
              tuple(" ".join("%.2f" % x for x in xs) for xs in big["runs"]))


if __name__ == "__main__":
    main()
