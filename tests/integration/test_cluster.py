"""Several Ferry nodes sharing one PostgreSQL database.

Three `ferry serve` processes on loopback use one fresh database on the test run's shared
PostgreSQL server. The tests click "sync" twenty times at once across the nodes and expect one
run; kill -9 the node executing a run and expect another node to take the run over once its
lease expires (ending the killed attempt as interrupted and running attempt 2, a new run that
names it, as `retries: 1` allows), and leave the target equal to the source row by row; watch a run
executing on one node from another node's event stream; cancel it from a node that does not
run it; list the nodes with GET /api/nodes; and count the runs a schedule fires with three
nodes watching the clock.

The CSV is served by a loopback server that drips it slowly, so a run lasts long enough to be
watched, cancelled or killed; every wait is bounded.
"""

import concurrent.futures
import contextlib
import signal
import time
import unittest

import ferrytest

ROWS = 400
# The CSV drips in 40 pieces with a pause after each: a run takes about 4 s.
DRIP_PIECES = 40
DRIP_PAUSE = 0.1


@unittest.skipIf(ferrytest.ON_POSTGRES, "runs once, in the integration suite (it is PostgreSQL-only)")
class ClusterTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.url = ferrytest.pg_new_database()
        self.upstream = ferrytest.LoopbackServer()
        self.addCleanup(self.upstream.stop)
        self.rows = ferrytest.people_rows(ROWS)
        body = ferrytest.csv_text(["id", "name", "email"], self.rows).encode()
        self.upstream.route("/people.csv", body=body, drip_bytes=len(body) // DRIP_PIECES + 1,
                            drip_pause=DRIP_PAUSE)

    def write_cluster_config(self, schedule=None, lease="10s", retries=None):
        sync = ferrytest.sync_config(self.upstream.url("/people.csv"))
        if schedule:
            sync["schedule"] = schedule
        if retries is not None:
            sync["retries"] = retries
        text = ferrytest.config_text({"people": sync}, database=self.url)
        # workers: 1 per node, so "which node runs it" has one answer per run.
        text = text.replace('"syncs":', '"lease": "%s", "workers": 1, "syncs":' % lease, 1)
        self.write_file("ferry.yaml", text)

    @contextlib.contextmanager
    def cluster(self, n=3):
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(self.serve()) for _ in range(n)]

    def pg(self, sql, params=()):
        return ferrytest.pg_query_dicts(self.url, sql, params)

    def node_of(self, nodes, run_id, timeout=10):
        """The node (a FerryServer) executing run_id, by the run's node field."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = nodes[0].get_json("/api/runs/%d" % run_id)
            if run["status"] == "running" and run.get("node"):
                for node in nodes:
                    if run["node"].endswith(":%d" % node.proc.pid):
                        return node
            time.sleep(0.05)
        self.fail("run %d was not seen running on a node" % run_id)

    def next_attempt(self, run_id, timeout=60):
        """The id of the run queued as the next attempt of run_id (retry_of), once there is
        one: a lease expires and a node's reclaim (every 10 s) queues it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            nxt = self.pg("SELECT id FROM ferry_runs WHERE retry_of = ?", (run_id,))
            if nxt:
                self.assertEqual(len(nxt), 1, nxt)
                return nxt[0]["id"]
            time.sleep(0.2)
        self.fail("no next attempt of run %d was queued within %ss" % (run_id, timeout))

    def assert_target_matches_source(self):
        rows = self.pg('SELECT id, name, email FROM people ORDER BY id')
        self.assertEqual([[r["id"], r["name"], r["email"]] for r in rows], self.rows)

    def test_twenty_clicks_on_three_nodes_start_one_run(self):
        self.write_cluster_config()
        with self.cluster() as nodes:
            def click(i):
                r = nodes[i % 3].post("/api/syncs/people/runs", {})
                self.assertIn(r.status, (200, 202), r)
                return r.json["id"]
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                ids = set(pool.map(click, range(20)))
            self.assertEqual(len(ids), 1, ids)
            run = nodes[0].wait_run(ids.pop(), timeout=30)
            self.assertEqual(run["status"], "succeeded", run)
            self.assertEqual(run["counts"]["created"], ROWS)
        self.assertEqual(len(self.pg("SELECT id FROM ferry_runs")), 1)
        self.assert_target_matches_source()

    def test_a_killed_node_s_run_is_taken_over_and_completed_elsewhere(self):
        self.write_cluster_config(lease="10s", retries=1)
        with self.cluster() as nodes:
            run_id = nodes[0].start_run("people")["id"]
            victim = self.node_of(nodes, run_id)
            # Part of the way through the CSV: the run has received some of it.
            victim.wait_run(run_id, lambda r: r["percent"] > 0, timeout=30,
                            what="to receive part of the CSV")
            victim.kill()
            survivors = [n for n in nodes if n is not victim]
            # The lease (10 s) expires, a node's reclaim (every 10 s) ends attempt 1 as
            # interrupted and queues attempt 2, which a survivor runs from the start.
            next_id = self.next_attempt(run_id)
            run = survivors[0].wait_run(next_id, timeout=60)
            self.assertEqual((run["status"], run["attempt"], run["retry_of"]),
                             ("succeeded", 2, run_id), run)
            self.assertEqual(run["counts"]["created"], ROWS, run)
            first = survivors[0].get_json("/api/runs/%d" % run_id)
            self.assertEqual((first["status"], first["error_code"]),
                             ("interrupted", "interrupted"), first)
        self.assert_target_matches_source()
        self.assertEqual(self.pg("SELECT count(*) AS n, count(DISTINCT id) AS d FROM people"),
                         [{"n": ROWS, "d": ROWS}])
        changes = self.pg("SELECT count(*) AS n FROM ferry_changes WHERE run_id = ?", (run_id,))
        self.assertEqual(changes, [{"n": 0}], "the killed attempt's change rows were rolled back")
        changes = self.pg("SELECT count(*) AS n FROM ferry_changes WHERE run_id = ?", (next_id,))
        self.assertEqual(changes, [{"n": ROWS}])

    def test_a_node_paused_past_its_lease_announces_only_what_the_store_holds(self):
        self.write_cluster_config(lease="10s", retries=1)
        with self.cluster() as nodes:
            run_id = nodes[0].start_run("people")["id"]
            runner = self.node_of(nodes, run_id)
            others = [n for n in nodes if n is not runner]
            streams = [n.events() for n in others]
            runner.wait_run(run_id, lambda r: r["percent"] > 0, timeout=30,
                            what="to receive part of the CSV")
            runner.proc.send_signal(signal.SIGSTOP)
            try:
                # Past the lease, another node ends attempt 1 and runs attempt 2 to the end.
                done = others[0].wait_run(self.next_attempt(run_id), timeout=60)
                self.assertEqual(done["status"], "succeeded", done)
            finally:
                runner.proc.send_signal(signal.SIGCONT)
            # The paused node wakes, finds its lease gone and stops; it records nothing and
            # announces only what the store holds for run 1: interrupted.
            deadline = time.monotonic() + 30
            while "run's end not recorded by this process" not in runner.stderr_text():
                self.assertLess(time.monotonic(), deadline, runner.stderr_text())
                time.sleep(0.1)
            stored = self.pg("SELECT status FROM ferry_runs WHERE id = ?", (run_id,))
            self.assertEqual(stored, [{"status": "interrupted"}])
            for stream in streams:
                events = stream.events_until(lambda e: False, timeout=3)
                # run.activity entries carry no status: only the announcements count.
                said = [(e["event"], e["data"]["status"]) for e in events
                        if isinstance(e["data"], dict) and e["data"].get("id") == run_id
                        and e["event"] != "run.activity"]
                self.assertNotIn(("run.finished", "failed"), said)
                # Once it was announced ended, nothing says it runs again.
                ended = said.index(("run.finished", "interrupted"))
                self.assertNotIn("running", [status for _, status in said[ended:]], said)
        self.assert_target_matches_source()

    def test_progress_of_a_run_on_one_node_streams_from_another(self):
        self.write_cluster_config()
        with self.cluster() as nodes:
            streams = [n.events() for n in nodes]
            run_id = nodes[0].start_run("people")["id"]
            runner = self.node_of(nodes, run_id)
            for node, stream in zip(nodes, streams):
                if node is runner:
                    continue
                events = stream.events_until(
                    lambda e: e["event"] == "run.finished" and e["data"]["id"] == run_id,
                    timeout=30)
                kinds = {e["event"] for e in events if e["data"].get("id") == run_id}
                self.assertIn("run.progress", kinds)
                self.assertIn("run.finished", kinds)

    def test_cancel_from_a_node_that_does_not_run_it(self):
        self.write_cluster_config()
        with self.cluster() as nodes:
            run_id = nodes[0].start_run("people")["id"]
            runner = self.node_of(nodes, run_id)
            other = next(n for n in nodes if n is not runner)
            r = other.post("/api/runs/%d/cancel" % run_id)
            self.assertEqual(r.status, 202, r)
            run = other.wait_run(run_id, timeout=15)
            self.assertEqual(run["status"], "cancelled", run)
            # Recorded in the same write as the run's end: never a cancelled run without it.
            self.assertEqual(run["cancelled_by"], ferrytest.ADMIN_USER)
        # The table was created inside the run's transaction, which rolled back.
        self.assertFalse(self.pg("SELECT 1 FROM information_schema.tables"
                                 " WHERE table_name = 'people'"))

    def test_nodes_lists_every_live_node_and_what_it_runs(self):
        self.write_cluster_config()
        with self.cluster() as nodes:
            run_id = nodes[1].start_run("people")["id"]
            runner = self.node_of(nodes, run_id)
            listed = nodes[2].get_json("/api/nodes")
            ids = sorted(n["id"] for n in listed["nodes"])
            self.assertEqual(len(ids), 3, listed)
            self.assertEqual(sorted(i.rsplit(":", 1)[1] for i in ids),
                             sorted(str(n.proc.pid) for n in nodes))
            mine = [n for n in listed["nodes"] if n["self"]]
            self.assertEqual(len(mine), 1)
            self.assertTrue(mine[0]["id"].endswith(":%d" % nodes[2].proc.pid))
            running = [n for n in listed["nodes"] if n["runs"]]
            self.assertEqual(len(running), 1, listed)
            self.assertTrue(running[0]["id"].endswith(":%d" % runner.proc.pid))
            self.assertEqual(running[0]["runs"][0]["id"], run_id)
            self.assertEqual(running[0]["busy"], 1)
            for n in listed["nodes"]:
                self.assertEqual(n["workers"], 1)
                self.assertRegex(n["address"], r"^127\.0\.0\.1:\d+$")
            nodes[0].wait_run(run_id, timeout=30)

    def test_a_schedule_fires_once_per_period_across_the_cluster(self):
        self.upstream.route("/people.csv", body=ferrytest.csv_text(
            ["id", "name", "email"], self.rows).encode())  # fast: runs end within a period
        self.write_cluster_config(schedule="every 10s")  # the shortest period allowed
        # How many runs fire depends on when the nodes start within a period and how long
        # starting three of them takes (seconds, on a busy machine), so the bounds are the
        # periods the cluster actually lived through, not a count fixed in advance.
        started = time.time()
        with self.cluster():
            time.sleep(21)
        stopped = time.time()
        runs = self.pg("SELECT id, (extract(epoch FROM queued_at) * 1000)::bigint AS at"
                       " FROM ferry_runs WHERE trigger = 'schedule' ORDER BY id")
        slots = [r["at"] // 10000 for r in runs]
        lived = range(int(started * 1000) // 10000, int(stopped * 1000) // 10000 + 1)
        # At most one run per period, each in a period the cluster lived through; at least
        # two (the first at once, then at a multiple of 10 s at most 15 s later).
        self.assertEqual(len(slots), len(set(slots)), "two scheduled runs in one period: %s" % runs)
        self.assertTrue(all(slot in lived for slot in slots), (runs, started, stopped))
        self.assertGreaterEqual(len(runs), 2, runs)


if __name__ == "__main__":
    ferrytest.main()
