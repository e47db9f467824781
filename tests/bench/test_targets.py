#!/usr/bin/python3
"""The targets table make bench prints (bench/targets.py) from the figures the benchmarks
record (bench/results.py): each row shows this run's figure against its target, a missing
figure reads "not measured", and the 10M run's own 1M figures are what its time per row is
compared with, not the 1M run's."""
import json
import os
import sys
import tempfile
import unittest

BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
sys.path.insert(0, BENCH)
import results  # noqa: E402
import targets  # noqa: E402

MET = {
    "sqlite.1000000.initial_ratio": 0.95, "sqlite.1000000.second_ratio": 1.6,
    "sqlite.1000000.rss_mib": 15.2, "sqlite.10000000.rss_mib": 16.0,
    "sqlite.10000000.initial_s_per_row": 1.1e-6,
    "sqlite.1000000.initial_s_per_row@10000000": 1.0e-6,
    "sqlite.1000000.initial_s_per_row": 9.0e-6,  # the 1M run's own: not the comparison
    "pg.1000000.initial_ratio": 0.81, "pg.1000000.second_ratio": 2.6, "pg.1000000.rss_mib": 39.0,
    "rest.200000.ratio": 0.9, "serve.get_run_ratio": 1.05,
    "serve.streams.10000.received": 10000, "serve.streams.10000.spread_s": 0.4,
    "serve.streams.10000.rss_mib": 250.0,
}


class TargetsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "results.jsonl")
        os.environ["FERRY_BENCH_RESULTS"] = self.path

    def tearDown(self):
        del os.environ["FERRY_BENCH_RESULTS"]
        self.dir.cleanup()

    def rows(self, figures):
        for k, v in figures.items():
            results.record(k, v)
        lines = targets.table(targets.load(self.path)).splitlines()
        return {ln.split("  ")[0]: ln for ln in lines[2:-1]}, lines[-1]

    def test_every_target_has_a_row_and_all_met_says_so(self):
        rows, last = self.rows(MET)
        self.assertEqual(len(rows), 10)
        self.assertEqual(last, "10 of 10 targets met")
        for work, line in rows.items():
            self.assertTrue(line.endswith("yes"), line)
        self.assertIn("1.10x", rows["10M rows SQLite, time per row vs 1M rows"])
        self.assertIn("16.0 MiB", rows["SQLite peak RSS, 1M and 10M rows"])

    def test_a_missed_target_and_a_missing_figure(self):
        figures = dict(MET)
        figures["pg.1000000.rss_mib"] = 76.0
        figures["serve.streams.10000.received"] = 9990
        del figures["rest.200000.ratio"]
        rows, last = self.rows(figures)
        self.assertTrue(rows["PostgreSQL peak RSS, 1M rows"].endswith("no"))
        self.assertIn("9990 received", rows["event streams, all receive run.finished within 1 s"])
        self.assertTrue(rows["event streams, all receive run.finished within 1 s"].endswith("no"))
        rest = rows["REST, 200k records, vs the same records as one CSV"]
        self.assertIn("not measured", rest)
        self.assertTrue(rest.endswith("-"))
        self.assertEqual(last, "7 of 10 targets met")

    def test_record_writes_nothing_without_the_variable(self):
        del os.environ["FERRY_BENCH_RESULTS"]
        results.record("x", 1)
        self.assertFalse(os.path.exists(self.path))
        os.environ["FERRY_BENCH_RESULTS"] = self.path
        results.record("x", 1)
        with open(self.path) as f:
            self.assertEqual(json.loads(f.read()), {"key": "x", "value": 1})


if __name__ == "__main__":
    unittest.main()
