"""Chaos: `ferry serve` killed (SIGKILL) at random moments of its runs, restarted, again.

Three syncs of different sizes read local CSV files beside the config. Each round writes a
new version of every file (a share of the rows renamed), clicks a run of every sync, waits
a random time (seeded: the seed is printed, and FERRY_CHAOS_SEED replays it), SIGKILLs the
server wherever its runs are (connecting, applying, committing, or between runs), starts a
new server and lets it finish what was left. Then, exactly:

- no run is left running: every run is succeeded, failed, cancelled or interrupted;
- every target table equals the round's file, row by row;
- for every sync, the rows its succeeded runs created add up to the rows of its table, and
  every succeeded run has one change row per record that was not unchanged (a run that
  was killed left nothing behind, and none was applied twice);
- PRAGMA integrity_check says ok.

Runs killed in flight are interrupted and started again (retries: 10), so every round's
data lands. The test stops starting rounds after about 45 s. SQLite only: the kills are
about the store and the target sharing one file's transactions.
"""

# pgsuite: no (the kills are about SQLite's shared transactions)

import os
import random
import time

import ferrytest
from ferrytest import csv_text, sync_config

HEADER = ["id", "name", "email"]
SIZES = {"small": 40, "medium": 15000, "large": 120000}
BUDGET_S = 45
MIN_ROUNDS = 3
FINAL = ("succeeded", "failed", "cancelled", "interrupted")


def version_rows(n, version, rng):
    """n people; in version v, about a third of them carry the version in their name."""
    rows = []
    for i in range(n):
        name = "Person %d" % i
        if version > 0 and rng.random() < 0.33:
            name += " v%d" % version
        rows.append(["P%07d" % i, name, "p%d@example.com" % i])
    return rows


@ferrytest.sqlite_only("the kills are about SQLite's shared transactions")
class ChaosTest(ferrytest.FerryTestCase):
    def write_version(self, version, rng):
        expected = {}
        for sync, n in SIZES.items():
            rows = version_rows(n, version, rng)
            self.write_file(sync + ".csv", csv_text(HEADER, rows))
            expected[sync] = [tuple(r) for r in rows]
        return expected

    def settle(self, srv, timeout=60):
        """Waits until no run is queued or running; returns the runs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.query_dicts("SELECT id, sync, status FROM ferry_runs")
            if all(r["status"] in FINAL for r in runs):
                return runs
            time.sleep(0.1)
        self.fail("runs still queued or running after %ss: %s\nstderr:\n%s"
                  % (timeout, [r for r in runs if r["status"] not in FINAL], srv.stderr_text()))

    def check_invariants(self, expected, where):
        runs = self.query_dicts("SELECT * FROM ferry_runs")
        stuck = [(r["id"], r["status"]) for r in runs if r["status"] not in FINAL]
        self.assertEqual(stuck, [], where)
        for sync, rows in expected.items():
            self.assertEqual(self.table_rows(sync, order_by="id"), rows, "%s: %s" % (where, sync))
            done = [r for r in runs if r["sync"] == sync and r["status"] == "succeeded"]
            self.assertEqual(sum(r["created"] for r in done), len(rows), "%s: %s" % (where, sync))
            for r in done:
                changed = r["created"] + r["updated"] + r["skipped"] + r["failed"] + r["deleted"]
                stored = self.query("SELECT count(*) FROM ferry_changes WHERE run_id = ?",
                                    (r["id"],))[0][0]
                self.assertEqual(stored, changed, "%s: run %d" % (where, r["id"]))
        lost = self.query("SELECT count(*) FROM ferry_changes WHERE run_id NOT IN"
                          " (SELECT id FROM ferry_runs WHERE status = 'succeeded')")
        self.assertEqual(lost, [(0,)], "%s: change rows of runs that did not commit" % where)
        self.assertEqual(self.query("PRAGMA integrity_check"), [("ok",)], where)

    def test_kill_9_at_random_moments_loses_nothing_and_applies_nothing_twice(self):
        seed = int(os.environ.get("FERRY_CHAOS_SEED") or random.SystemRandom().randrange(1 << 30))
        print("\nchaos seed %d (FERRY_CHAOS_SEED=%d replays it)" % (seed, seed))
        rng = random.Random(seed)
        syncs = {}
        for sync in SIZES:
            spec = sync_config(sync + ".csv", table=sync)
            spec["retries"] = 10  # every killed run is started again until it lands
            syncs[sync] = spec
        self.write_config({name: syncs[name] for name in SIZES})
        expected = self.write_version(0, rng)
        started = time.monotonic()
        kills = []
        with self.serve() as srv:
            # A clean round first: how long a round of runs takes here sets the kill window.
            t0 = time.monotonic()
            for sync in SIZES:
                srv.start_run(sync)
            self.settle(srv)
            window = max(0.5, time.monotonic() - t0)
            print("a round of runs takes %.2fs here: kills fall within it" % window)
            self.check_invariants(expected, "round 0")
        version = 0
        while version < MIN_ROUNDS or time.monotonic() - started < BUDGET_S:
            version += 1
            expected = self.write_version(version, rng)
            with self.serve() as srv:
                ids = [srv.start_run(sync)["id"] for sync in rng.sample(sorted(SIZES), len(SIZES))]
                time.sleep(rng.uniform(0, window * 1.5))
                # Where the runs are (the workers' live phases), then the kill at once.
                live = [srv.get_json("/api/runs/%d" % i) for i in ids]
                srv.kill()
                kills.append(sorted("%s:%s" % (r["sync"], r["phase"]) for r in live
                                    if r["status"] == "running"))
            where = "round %d (seed %d)" % (version, seed)
            with self.serve() as srv:
                self.settle(srv)
                self.check_invariants(expected, where)
        print("%d rounds; running at each kill: %s" % (version, kills))


if __name__ == "__main__":
    ferrytest.main()
