#!/usr/bin/python3
"""Ferry's speed targets beside what this `make bench` measured.

Reads the figures the benchmarks recorded (bench/results.py: one JSON line per figure, in the
file FERRY_BENCH_RESULTS named) and prints one row per target: the work, the figure measured
in this run, the figure when the target was set, the target, and whether this run meets it.
Each ratio is against the baseline measured in the same run (medians of the runs the
benchmark made). A figure this run did not measure (a benchmark left out, or at another size)
shows as "not measured". Prints only; it asserts nothing, since these machines are shared and
noisy.
"""
import argparse
import json


def ratio(v):
    return "%.2fx" % v


def mib(v):
    return "%.1f MiB" % v


# (work, how this run's figure is made from the recorded ones, as measured then, the target,
# whether a figure meets it)
def targets():
    def get(key):
        return lambda f: f.get(key)

    def sqlite_rss(f):
        a, b = f.get("sqlite.1000000.rss_mib"), f.get("sqlite.10000000.rss_mib")
        if a is None or b is None:
            return None
        return max(a, b)

    def per_row(f):
        a = f.get("sqlite.1000000.initial_s_per_row@10000000")
        b = f.get("sqlite.10000000.initial_s_per_row")
        return b / a if a and b is not None else None

    def streams(f):
        got = f.get("serve.streams.10000.received")
        if got is None:
            return None
        return (got, f.get("serve.streams.10000.spread_s"), f.get("serve.streams.10000.rss_mib"))

    def streams_text(v):
        got, spread, rss = v
        return "%d received, last %s after the first, %.0f MiB" % (
            got, "-" if spread is None else "%.2f s" % spread, rss or 0)

    def streams_ok(v):
        got, spread, rss = v
        return got == 10000 and spread is not None and spread <= 1.0 and rss is not None \
            and rss < 300

    return [
        ("SQLite 1M rows, initial, vs .import into the same keyed table",
         get("sqlite.1000000.initial_ratio"), ratio, "0.63-0.68x", ">= 0.9x",
         lambda v: v >= 0.9),
        ("SQLite 1M rows, second version, vs .import",
         get("sqlite.1000000.second_ratio"), ratio, "0.63-0.75x", ">= 1.5x",
         lambda v: v >= 1.5),
        ("SQLite peak RSS, 1M and 10M rows", sqlite_rss, mib, "15 MB", "<= 32 MB at both",
         lambda v: v <= 32),
        ("PostgreSQL 1M rows, initial, vs COPY", get("pg.1000000.initial_ratio"), ratio,
         "0.48-0.61x", ">= 0.8x", lambda v: v >= 0.8),
        ("PostgreSQL 1M rows, second version, vs SQL merge", get("pg.1000000.second_ratio"),
         ratio, "1.58-1.68x", ">= 2.5x", lambda v: v >= 2.5),
        ("PostgreSQL peak RSS, 1M rows", get("pg.1000000.rss_mib"), mib, "76 MB", "<= 40 MB",
         lambda v: v <= 40),
        ("REST, 200k records, vs the same records as one CSV", get("rest.200000.ratio"), ratio,
         "0.59-0.60x", ">= 0.85x", lambda v: v >= 0.85),
        ("GET /api/runs/{id} (wrk, 64 connections) vs nginx static file",
         get("serve.get_run_ratio"), ratio, "0.61-0.73x", ">= 1.0x", lambda v: v >= 1.0),
        ("event streams, all receive run.finished within 1 s", streams, streams_text,
         "1,000", "10,000 at < 300 MB RSS", streams_ok),
        ("10M rows SQLite, time per row vs 1M rows", per_row, ratio, "not measured",
         "<= 1.2x", lambda v: v <= 1.2),
    ]


def load(path):
    figures = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                rec = json.loads(line)
                figures[rec["key"]] = rec["value"]
    return figures


def table(figures):
    rows = [("work", "this run", "when set", "target", "met")]
    met = 0
    for work, figure, text, then, target, ok in targets():
        v = figure(figures)
        if v is None:
            rows.append((work, "not measured", then, target, "-"))
            continue
        good = ok(v)
        met += good
        rows.append((work, text(v), then, target, "yes" if good else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("%d of %d targets met" % (met, len(rows) - 1))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="the file FERRY_BENCH_RESULTS named")
    args = ap.parse_args()
    print("Ferry's speed targets (ratios against baselines measured in the same run)")
    print(table(load(args.results)))


if __name__ == "__main__":
    main()
