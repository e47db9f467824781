"""Retention (docs/config.md, "Retention"): `ferry prune` deletes the history retention: no
longer keeps, in short batches, and says per table what went; --dry-run counts the same rows
and deletes nothing. The change rows of runs that ended longer ago than retention.changes go
(the run stays with its counts and says when its detail was pruned: changes_pruned_at); runs
that ended longer ago than retention.runs go with everything hanging off them. The latest run
and the latest succeeded run of a sync always stay. `ferry serve` prunes on its own, every
retention.every. A run that wrote many rows truncates SQLite's write-ahead log as it ends.

Runs are aged by writing their finished_at in the store directly.
"""

import datetime
import json
import os
import time
import unittest

import ferrytest
from ferrytest import config_text, csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]


def days_ago(days):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class RetentionTestCase(ferrytest.FerryTestCase):
    def config(self, retention=None):
        cfg = json.loads(config_text({"t": sync_config("people.csv")}))
        if retention is not None:
            cfg["retention"] = retention
        self.write_config(json.dumps(cfg, indent=2) + "\n")

    def history(self, retention=None):
        """Four runs of t: 20 created, 5 updated, 3 updated, none changed; returns their ids."""
        self.config(retention)
        rows = [list(r) for r in people_rows(20)]
        for changed in (None, 5, 3, 0):
            if changed:
                for r in rows[:changed]:
                    r[1] += "x"
            self.write_csv("people.csv", HEADER, rows)
            self.sync("t")
        return [r["id"] for r in self.runs()]

    def age(self, run_id, days):
        self.db_exec("UPDATE ferry_runs SET finished_at = ? WHERE id = ?",
                     (days_ago(days), run_id))

    def ferry_ok(self, *args):
        code, out, err = self.run_ferry(*args)
        self.assertEqual(code, 0, "ferry %s exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), code, out, err))
        return out

    def change_counts(self):
        return dict(self.query("SELECT run_id, count(*) FROM ferry_changes GROUP BY run_id"))


class PruneCommandTest(RetentionTestCase):
    def test_dry_run_counts_and_prune_deletes_old_change_rows_keeping_the_runs(self):
        ids = self.history()
        self.age(ids[0], 40)
        self.age(ids[1], 35)
        self.age(ids[2], 10)
        before = self.change_counts()
        self.assertEqual(before, {ids[0]: 20, ids[1]: 5, ids[2]: 3})

        out = self.ferry_ok("prune", "--dry-run")
        self.assertIn("Would prune (retention: runs 180d, changes 30d, audit 365d):\n"
                      "  25 change rows (of 2 runs)\n"
                      "  0 runs\n", out)
        self.assertEqual(self.change_counts(), before)
        self.assertIsNone(self.runs()[0]["changes_pruned_at"])

        out = self.ferry_ok("prune")
        self.assertIn("Pruned (retention: runs 180d, changes 30d, audit 365d):\n"
                      "  25 change rows (of 2 runs)\n"
                      "  0 runs\n", out)
        self.assertEqual(self.change_counts(), {ids[2]: 3})
        runs = self.runs()
        self.assertEqual([r["id"] for r in runs], ids)
        self.assertEqual((runs[0]["created"], runs[1]["updated"]), (20, 5))
        self.assertIsNotNone(runs[0]["changes_pruned_at"])
        self.assertIsNone(runs[2]["changes_pruned_at"])
        out = self.ferry_ok("show", str(ids[0]))
        self.assertIn("the change detail was pruned on", out)
        self.assertIn("20 created", out)
        # Nothing is left to prune.
        self.assertIn("  0 change rows (of 0 runs)\n", self.ferry_ok("prune"))
        # Without its change rows the run cannot be undone.
        code, out, err = self.run_ferry("revert", str(ids[0]))
        self.assertEqual(code, 1, out + err)
        self.assertIn("run %d cannot be reverted: its change detail was pruned" % ids[0], err)

    def test_old_runs_go_with_their_change_rows_but_the_latest_stay(self):
        ids = self.history()
        for run_id in ids:
            self.age(run_id, 200)
        out = self.ferry_ok("prune", "--dry-run")
        self.assertIn("  28 change rows (of 3 runs)\n  3 runs\n", out)
        self.assertEqual(len(self.runs()), 4)
        out = self.ferry_ok("prune")
        self.assertIn("  28 change rows (of 3 runs)\n  3 runs\n", out)
        # The last run is the latest finished and the latest succeeded one: it stays.
        self.assertEqual([r["id"] for r in self.runs()], ids[3:])
        self.assertEqual(self.change_counts(), {})

    def test_changes_keep_keeps_every_change_row(self):
        ids = self.history({"changes": "keep"})
        self.age(ids[0], 40)
        out = self.ferry_ok("prune")
        self.assertIn("Pruned (retention: runs 180d, changes keep, audit 365d):\n"
                      "  0 change rows (of 0 runs)\n", out)
        self.assertEqual(self.change_counts()[ids[0]], 20)

    def test_changes_longer_than_runs_is_a_config_error(self):
        self.config({"runs": "10d", "changes": "20d"})
        code, out, err = self.run_ferry("prune")
        self.assertEqual(code, 2, err)
        self.assertIn("retention: changes may not be kept longer than runs", err)
        self.config({"audit": "soon"})
        code, out, err = self.run_ferry("prune")
        self.assertEqual(code, 2, err)
        self.assertIn("retention.audit: expected a duration", err)


class PrunedRunApiTest(RetentionTestCase):
    def test_a_pruned_run_keeps_its_json_and_lists_no_changes(self):
        ids = self.history()
        self.age(ids[0], 40)
        self.ferry_ok("prune")
        with self.serve() as srv:
            run = srv.get_json("/api/runs/%d" % ids[0])
            self.assertIsNotNone(run.get("changes_pruned_at", run.get("run", {}).get(
                "changes_pruned_at")))
            self.assertEqual(srv.get_json("/api/runs/%d/changes" % ids[0])["changes"], [])
            kept = srv.get_json("/api/runs/%d" % ids[2])
            self.assertIsNone(kept.get("changes_pruned_at", "absent"))
            self.assertEqual(len(srv.get_json("/api/runs/%d/changes" % ids[2])["changes"]), 3)


class BackgroundPruneTest(RetentionTestCase):
    def test_the_server_prunes_on_its_own(self):
        ids = self.history({"every": "1s"})
        self.age(ids[0], 40)
        with self.serve() as srv:
            for _ in range(600):
                if ids[0] not in self.change_counts():
                    break
                time.sleep(0.1)
            self.assertNotIn(ids[0], self.change_counts())
            srv.wait_log("pruned old history")
            self.assertIn("changes=20", srv.stderr_text())
        self.assertIn(ids[2], self.change_counts())


@ferrytest.sqlite_only("the write-ahead log checked is SQLite's")
class WalTest(RetentionTestCase):
    def test_the_wal_is_small_after_a_large_run(self):
        # In the server, whose connections stay open (the last one to close would remove the
        # file anyway).
        self.config()
        self.write_file("people.csv", csv_text(HEADER, people_rows(150000)))
        with self.serve() as srv:
            run = srv.wait_run(srv.start_run("t")["id"], timeout=600)
            self.assertEqual(run["status"], "succeeded", run)
            self.assertEqual(self.last_run()["created"], 150000)
            wal = self.path("ferry.db-wal")
            size = os.path.getsize(wal) if os.path.exists(wal) else 0
            self.assertLess(size, 4 * 1024 * 1024, "the -wal file is %d bytes" % size)


if __name__ == "__main__":
    unittest.main()
