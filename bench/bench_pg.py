#!/usr/bin/python3
"""Ferry's PostgreSQL benchmark: initial load and second version against plain SQL.

Starts a throwaway PostgreSQL server (tests/pg/pgtmp.sh, in a temporary folder), generates
the roster CSV of bench_sync.py (9 columns, N rows) and a second version of it (about 5% of
rows changed, 1% invalid, 1% removed, 1% new), then, in the same run:

  copy      psql: COPY roster FROM STDIN (FORMAT csv, HEADER) of the first file into an
            empty table with employee_id TEXT PRIMARY KEY (the same key as Ferry's table)
  upsert    psql, on the result of `copy`: in one transaction, COPY the second file into a
            temporary table, then one INSERT ... ON CONFLICT (employee_id) DO UPDATE SET ...
            WHERE (row) IS DISTINCT FROM (excluded row)
  initial   ferry sync into an empty database (its store in the same database)
  second    ferry sync of the second version into the result of `initial`

Each is repeated --repeat times on fresh databases; the medians are reported as rows/s, with
Ferry's ratios (initial to copy, second to upsert) and its peak RSS (/usr/bin/time -v).
Ferry's runs also write a change row per created, updated or failed record, which plain SQL
does not. The sync uses on_missing: keep, as the upsert deletes nothing.

With --app-table, the runs target the app-shaped table of bench_sync.py --app-table (its
6-column roster, the sync's target.timestamps on, fields typed boolean, decimal and date), as
a Rails migration makes it on PostgreSQL:

  CREATE TABLE roster (id bigserial PRIMARY KEY, employee_id varchar NOT NULL,
    name varchar, email varchar, active boolean, salary numeric(10,2), started_on date,
    created_at timestamp(6) NOT NULL, updated_at timestamp(6) NOT NULL);
  CREATE UNIQUE INDEX index_roster_on_employee_id ON roster (employee_id);

created before each run and not timed. The baselines into that table shape:

  copy      COPY roster (employee_id, name, email, active, salary, started_on) FROM STDIN
            (FORMAT csv, HEADER), the table's timestamps defaulting to
            (now() AT TIME ZONE 'UTC') for this run only
  upsert    in one transaction: COPY the second file into a temporary table of the same
            six columns and types, then one INSERT INTO roster (..., created_at,
            updated_at) SELECT *, now, now FROM it ON CONFLICT (employee_id) DO UPDATE SET
            (the five other columns and updated_at) WHERE (the five) IS DISTINCT FROM
            (excluded's five)

After each Ferry run the table is checked as in bench_sync.py --app-table (row count,
timestamps, a sample of values), and after the upsert its row count.

Prints figures and asserts no speed, since these machines are shared and noisy; it does
check that every Ferry run reports the outcomes the files call for, and stops if not.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_sync  # noqa: E402  (the roster rows and the timing helper)
import results  # noqa: E402  (the figures for the targets table)

HERE = os.path.dirname(os.path.abspath(__file__))
PGTMP = os.path.join(HERE, "..", "tests", "pg", "pgtmp.sh")
COLUMNS = ["employee_id", "name", "email", "phone", "employment", "location", "start_date",
           "active", "hourly_rate"]
SCHEMA = ("CREATE TABLE roster (employee_id TEXT PRIMARY KEY, %s);" %
          ", ".join("%s TEXT" % c for c in COLUMNS[1:]))


def generate(dirpath, n):
    """bench_sync.py's files, with 1% of the rows also removed in the second version, and the
    second version's outcomes."""
    return bench_sync.generate_with_outcomes(dirpath, n, removed=0.01)


def psql(url, *args, stdin=None):
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url] + list(args),
                          check=True, stdin=stdin, stdout=subprocess.DEVNULL)


def create_db(admin_url, name):
    psql(admin_url, "-c", "DROP DATABASE IF EXISTS %s" % name, "-c", "CREATE DATABASE %s" % name)
    return admin_url.rsplit("/", 1)[0] + "/" + name


def plain_copy(admin_url, name, csv):
    url = create_db(admin_url, name)
    psql(url, "-c", SCHEMA)
    with open(csv) as f:
        t, _ = bench_sync.timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c",
                                 "COPY roster FROM STDIN (FORMAT csv, HEADER)"], stdin=f)
    return url, t


def plain_upsert(url, csv, workdir):
    sets = ", ".join("%s = excluded.%s" % (c, c) for c in COLUMNS[1:])
    old = ", ".join("roster.%s" % c for c in COLUMNS[1:])
    new = ", ".join("excluded.%s" % c for c in COLUMNS[1:])
    script = os.path.join(workdir, "upsert.sql")
    with open(script, "w") as f:
        f.write("BEGIN;\n"
                "CREATE TEMP TABLE stage (LIKE roster) ON COMMIT DROP;\n"
                "\\copy stage FROM '%s' (FORMAT csv, HEADER)\n"
                "INSERT INTO roster SELECT * FROM stage ON CONFLICT (employee_id) DO UPDATE"
                " SET %s WHERE (%s) IS DISTINCT FROM (%s);\n"
                "COMMIT;\n" % (csv, sets, old, new))
    t, _ = bench_sync.timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-f", script])
    return t


def ferry_run(ferry, workdir, url, csv, want, make_config=bench_sync.config):
    with open(os.path.join(workdir, "ferry.yaml"), "w") as f:
        f.write(make_config(csv).replace("sqlite:ferry.db", url))
    return bench_sync.timed([ferry, "sync", "roster", "--config",
                             os.path.join(workdir, "ferry.yaml")], cwd=workdir, want=want)


APP_TYPES = ["varchar NOT NULL", "varchar", "varchar", "boolean", "numeric(10,2)", "date"]
APP_SCHEMA = ("CREATE TABLE roster (id bigserial PRIMARY KEY, %s,"
              " created_at timestamp(6) NOT NULL%%s, updated_at timestamp(6) NOT NULL%%s);"
              " CREATE UNIQUE INDEX index_roster_on_employee_id ON roster (employee_id);" %
              ", ".join("%s %s" % ct for ct in zip(bench_sync.APP_COLUMNS, APP_TYPES)))
UTC_NOW = "(now() AT TIME ZONE 'UTC')"


def app_schema(defaults):
    """The app-shaped table as a Rails migration makes it on PostgreSQL; with defaults, its
    timestamps default to the statement's time in UTC (for the plain COPY)."""
    d = " DEFAULT %s" % UTC_NOW if defaults else ""
    return APP_SCHEMA % (d, d)


def app_copy(admin_url, name, csv):
    url = create_db(admin_url, name)
    psql(url, "-c", app_schema(True))
    with open(csv) as f:
        t, _ = bench_sync.timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c",
                                 "COPY roster (%s) FROM STDIN (FORMAT csv, HEADER)" %
                                 ", ".join(bench_sync.APP_COLUMNS)], stdin=f)
    return url, t


def app_merge(url, csv, workdir):
    cols = bench_sync.APP_COLUMNS
    sets = ", ".join("%s = excluded.%s" % (c, c) for c in cols[1:] + ["updated_at"])
    old = ", ".join("roster.%s" % c for c in cols[1:])
    new = ", ".join("excluded.%s" % c for c in cols[1:])
    script = os.path.join(workdir, "merge.sql")
    with open(script, "w") as f:
        f.write("BEGIN;\n"
                "CREATE TEMP TABLE stage (%s) ON COMMIT DROP;\n"
                "\\copy stage FROM '%s' (FORMAT csv, HEADER)\n"
                "INSERT INTO roster (%s, created_at, updated_at) SELECT *, %s, %s FROM stage"
                " ON CONFLICT (employee_id) DO UPDATE SET %s WHERE (%s) IS DISTINCT FROM (%s);\n"
                "COMMIT;\n" % (", ".join("%s %s" % ct for ct in zip(cols, APP_TYPES)), csv,
                                ", ".join(cols), UTC_NOW, UTC_NOW, sets, old, new))
    t, _ = bench_sync.timed(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-f", script])
    return t


def query(url, sql):
    out = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1",
                          url, "-c", sql], check=True, stdout=subprocess.PIPE, text=True).stdout
    return [tuple(line.split("|")) for line in out.splitlines() if line]


def check_app_pg(url, expect, total, created, updated):
    """bench_sync.check_app_table() on the PostgreSQL database url."""
    rows = query(url, "SELECT %s FROM roster WHERE employee_id IN (%s)" %
                 (", ".join(bench_sync.APP_COLUMNS), ", ".join("'%s'" % k for k in expect)))
    counts = query(url, "SELECT count(*), count(*) FILTER (WHERE updated_at <> created_at),"
                        " count(*) FILTER (WHERE created_at = (SELECT max(created_at)"
                        " FROM roster)) FROM roster")[0]
    bench_sync.check_app_table(rows, tuple(int(c) for c in counts), expect, total, created,
                               updated)


def measure_app(ferry, admin, base, rows, repeat):
    """The app-shaped scenario's runs: the COPY and the merge into the app-shaped table, and
    Ferry's two syncs into it, each checked. Returns the row counts and the lists of times."""
    g = bench_sync.generate_app(base, rows, removed=0.01)
    n1, n2, second = g["n1"], g["n2"], g["outcomes"]
    first = {"created": n1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    os.chmod(g["v1"], 0o644)
    os.chmod(g["v2"], 0o644)
    copies, merges, initials, seconds, rss = [], [], [], [], []
    for k in range(repeat):
        url, t = app_copy(admin, "plain_%d" % k, g["v1"])
        copies.append(t)
        merges.append(app_merge(url, g["v2"], base))
        if query(url, "SELECT count(*) FROM roster")[0][0] != str(n1 + second["created"]):
            raise SystemExit("plain merge: the table does not hold %d rows" %
                             (n1 + second["created"]))
        url = create_db(admin, "ferry_%d" % k)
        psql(url, "-c", app_schema(False))
        d = os.path.join(base, "ferry-%d" % k)
        os.makedirs(d)
        t, r = ferry_run(ferry, d, url, g["v1"], first, bench_sync.app_config)
        initials.append(t)
        rss.append(r)
        check_app_pg(url, g["expect1"], n1, n1, 0)
        t, r = ferry_run(ferry, d, url, g["v2"], second, bench_sync.app_config)
        seconds.append(t)
        rss.append(r)
        check_app_pg(url, g["expect2"], n1 + second["created"], second["created"],
                     second["updated"])
        shutil.rmtree(d)
    return n1, n2, copies, merges, initials, seconds, rss


def measure(ferry, admin, base, rows, repeat):
    """Ferry's own table: the plain COPY and upsert, and Ferry's two syncs."""
    v1, v2, n1, n2, second = generate(base, rows)
    first = {"created": n1, "updated": 0, "unchanged": 0, "skipped": 0, "failed": 0}
    os.chmod(v1, 0o644)
    os.chmod(v2, 0o644)
    copies, upserts, initials, seconds, rss = [], [], [], [], []
    for k in range(repeat):
        url, t = plain_copy(admin, "plain_%d" % k, v1)
        copies.append(t)
        upserts.append(plain_upsert(url, v2, base))
        url = create_db(admin, "ferry_%d" % k)
        d = os.path.join(base, "ferry-%d" % k)
        os.makedirs(d)
        t, r = ferry_run(ferry, d, url, v1, first)
        initials.append(t)
        rss.append(r)
        t, r = ferry_run(ferry, d, url, v2, second)
        seconds.append(t)
        rss.append(r)
        shutil.rmtree(d)
    return n1, n2, copies, upserts, initials, seconds, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--app-table", action="store_true",
                    help="sync into an app-shaped table (id, unique key, timestamps, native"
                         " types) instead of Ferry's own")
    args = ap.parse_args()
    ferry = os.path.abspath(args.ferry)
    base = tempfile.mkdtemp(prefix="ferry-bench-pg-")
    # As root the server runs as `postgres`, which must reach the cluster's folder.
    os.chmod(base, 0o755)
    cluster = os.path.join(base, "cluster")
    admin = subprocess.run([PGTMP, "start", cluster], check=True, stdout=subprocess.PIPE,
                           text=True).stdout.strip()
    try:
        run = measure_app if args.app_table else measure
        n1, n2, copies, upserts, initials, seconds, rss = run(ferry, admin, base, args.rows,
                                                              args.repeat)
    finally:
        subprocess.run([PGTMP, "stop", cluster], stdout=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)

    def rate(rows, secs):
        return rows / secs if secs > 0 else 0.0

    copy_r = rate(n1, statistics.median(copies))
    upsert_r = rate(n2, statistics.median(upserts))
    ini_r = rate(n1, statistics.median(initials))
    sec_r = rate(n2, statistics.median(seconds))
    if args.app_table:
        print("Ferry PostgreSQL benchmark, app-shaped table: %d rows, 6 columns, median of %d"
              " runs" % (n1, args.repeat))
        copy_label = "plain COPY (app table, empty)"
    else:
        print("Ferry PostgreSQL benchmark: %d rows, 9 columns, median of %d runs" %
              (n1, args.repeat))
        copy_label = "plain COPY (keyed, empty table)"
    print("  %-38s %10.0f rows/s  (%.2f s)" % (copy_label, copy_r, statistics.median(copies)))
    print("  %-38s %10.0f rows/s  (%.2f s)" % ("plain COPY + INSERT ON CONFLICT (%d rows)" % n2,
                                               upsert_r, statistics.median(upserts)))
    print("  %-38s %10.0f rows/s  (%.2f s)  %.2fx plain COPY" %
          ("ferry initial load", ini_r, statistics.median(initials), ini_r / copy_r))
    print("  %-38s %10.0f rows/s  (%.2f s)  %.2fx INSERT ON CONFLICT" %
          ("ferry second version (%d rows)" % n2, sec_r, statistics.median(seconds),
           sec_r / upsert_r))
    print("  %-38s %10.1f MiB" % ("ferry peak RSS", max(rss) / 1024))
    if not args.app_table:
        results.record("pg.%d.initial_ratio" % n1, ini_r / copy_r)
        results.record("pg.%d.second_ratio" % n1, sec_r / upsert_r)
        results.record("pg.%d.rss_mib" % n1, max(rss) / 1024)
    print("  all runs (s): copy %s, upsert %s, initial %s, second %s" %
          tuple(" ".join("%.2f" % x for x in xs) for xs in (copies, upserts, initials, seconds)))


if __name__ == "__main__":
    main()
