"""Runs whose process died: interrupted, started again only while the sync's retries allow.

A `ferry serve` is killed (SIGKILL) while a run holds its source open; the next server finds
the run left `running` by a dead process of this host. The run ends as `interrupted` (in its
history and the audit trail) and a new attempt is queued as a new run naming it (retry_of)
while the attempt is within the sync's `retries:`; past them (0 by default) it ends `failed`
with the reason. A record that kills the process every time therefore costs retries + 1
attempts, not an endless loop. The source stops after its first rows until the test opens
a gate, so where the kill lands does not depend on the machine's speed.
"""

import ferrytest
from ferrytest import people_rows, sync_config

HEADER = ["id", "name", "email"]
ROWS = 300


class RecoveryTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.url, self.gate = self.gated_csv_route("/people.csv", HEADER, people_rows(ROWS))

    def write(self, retries=None):
        sync = sync_config(self.url)
        if retries is not None:
            sync["retries"] = retries
        self.write_config({"people": sync})

    def kill_during(self, srv, run_id):
        """Waits until run_id is running here (its source held open), then SIGKILLs srv."""
        srv.wait_run(run_id, lambda r: r["status"] == "running" and r["phase"] == "fetching",
                     timeout=15, what="to fetch")
        srv.kill()

    def audit(self):
        return self.query_dicts("SELECT actor, action, target, detail FROM ferry_audit"
                                " WHERE action = 'run.interrupted' ORDER BY id")

    def test_without_retries_a_run_whose_process_died_fails_with_the_reason(self):
        self.write()
        with self.serve() as srv:
            run_id = srv.start_run("people")["id"]
            self.kill_during(srv, run_id)
        with self.serve() as srv:
            run = srv.get_json("/api/runs/%d" % run_id)
            self.assertEqual((run["status"], run["error_code"], run["attempt"]),
                             ("failed", "interrupted", 1), run)
            self.assertRegex(run["error"], r"^the process running it \(.+:\d+\) ended before the "
                             r"run finished; its transaction was rolled back, so nothing was "
                             r"changed; it is not started again \(attempt 1, retries: 0\)$")
            self.assertTrue(run["ui_message"].startswith("Sync of people failed: the process"))
            # Nothing was queued in its place.
            self.assertEqual([r["id"] for r in srv.get_json("/api/runs")["runs"]], [run_id])
        audit = self.audit()
        self.assertEqual(len(audit), 1, audit)
        self.assertEqual((audit[0]["actor"], audit[0]["target"]), (None, "run %d" % run_id))
        self.assertIn("ended before the run finished", audit[0]["detail"])
        self.assertFalse(self.table_exists("people"))

    def test_a_run_killed_every_time_gets_retries_plus_one_attempts_then_fails(self):
        self.write(retries=1)
        with self.serve() as srv:
            first = srv.start_run("people")["id"]
            self.kill_during(srv, first)
        # The next server ends attempt 1 as interrupted and queues attempt 2 as a new run.
        with self.serve() as srv:
            interrupted = srv.get_json("/api/runs/%d" % first)
            self.assertEqual((interrupted["status"], interrupted["error_code"]),
                             ("interrupted", "interrupted"), interrupted)
            runs = srv.get_json("/api/runs")["runs"]
            self.assertEqual(len(runs), 2, runs)
            second = runs[0]
            self.assertEqual((second["attempt"], second["retry_of"], second["trigger"]),
                             (2, first, "api"), second)
            self.assertIn("queued again as run %d (attempt 2 of 2)" % second["id"],
                          interrupted["error"])
            self.kill_during(srv, second["id"])
        # Attempt 2 died too: retries (1) are spent, so it fails and nothing more is queued.
        with self.serve() as srv:
            run = srv.get_json("/api/runs/%d" % second["id"])
            self.assertEqual((run["status"], run["error_code"]), ("failed", "interrupted"), run)
            self.assertIn("it is not started again (attempt 2, retries: 1)", run["error"])
            self.assertEqual(len(srv.get_json("/api/runs")["runs"]), 2)
        self.assertEqual(len(self.audit()), 2)

    def test_the_next_attempt_completes_the_run(self):
        self.write(retries=2)
        with self.serve() as srv:
            first = srv.start_run("people")["id"]
            self.kill_during(srv, first)
        self.gate.set()
        with self.serve() as srv:
            runs = srv.get_json("/api/runs")["runs"]
            self.assertEqual(runs[0]["retry_of"], first, runs)
            run = srv.wait_run(runs[0]["id"], timeout=30)
            self.assertEqual((run["status"], run["attempt"], run["counts"]["created"]),
                             ("succeeded", 2, ROWS), run)
            self.assertEqual(srv.get_json("/api/runs/%d" % first)["status"], "interrupted")
        self.assertEqual(len(self.table_rows("people")), ROWS)
        self.assertEqual(self.query("SELECT count(*) FROM ferry_changes WHERE run_id = ?",
                                    (first,)), [(0,)])


if __name__ == "__main__":
    ferrytest.main()
