"""Stopping `ferry serve`: SIGTERM's grace, a second signal, and what happens to running runs.

On SIGTERM the server stops claiming and scheduling, lets running runs finish for
`shutdown_grace`, then rolls back the runs still going and queues them again (not cancelled),
publishes each one's last state on the event stream before the stream ends, and exits 0. A
second signal ends the grace at once, with a log line. The run is held open by a source
whose body stops after its first rows until the test opens a gate, so nothing here depends on
how fast the machine is: every wait polls a condition with a deadline.
"""

import signal
import time

import ferrytest
from ferrytest import people_rows, sync_config

HEADER = ["id", "name", "email"]
ROWS = 500
STREAMS = 40


class ShutdownTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.url, self.gate = self.gated_csv_route("/people.csv", HEADER, people_rows(ROWS),
                                                   held_after=50)

    def write(self, grace=None):
        text = ferrytest.config_text({"people": sync_config(self.url)})
        if grace is not None:
            text = text.replace('"syncs":', '"shutdown_grace": "%s", "syncs":' % grace, 1)
        self.write_config(text)

    def start_held_run(self, srv):
        run_id = srv.start_run("people")["id"]
        srv.wait_run(run_id, lambda r: r["status"] == "running" and r["phase"] == "fetching",
                     timeout=15, what="to fetch")
        return run_id


    def wait_exit(self, srv, timeout=20):
        code = srv.proc.wait(timeout=timeout)
        srv._stderr_thread.join(timeout=5)
        self.assertEqual(code, 0, srv.stderr_text())
        for mark in ferrytest.SANITIZER_MARKS:
            self.assertNotIn(mark, srv.stderr_text())

    def stream_events_of(self, stream, run_id):
        """Every event of run_id until the server ends the stream."""
        out = []
        while True:
            ev = stream.next_event(timeout=20)
            if ev is None:
                self.assertTrue(stream.ended, "the stream neither ended nor said more: %r" % out)
                return out
            if isinstance(ev["data"], dict) and ev["data"].get("id") == run_id:
                out.append(ev)

    def test_sigterm_lets_a_running_run_finish_within_the_grace(self):
        self.write(grace="60s")
        with self.serve() as srv:
            stream = srv.events()
            run_id = self.start_held_run(srv)
            srv.proc.send_signal(signal.SIGTERM)
            srv.wait_log('msg="stopping" signal=SIGTERM active_runs=1 grace_ms=60000')
            # The API still answers; nothing new is claimed.
            self.assertEqual(srv.get("/healthz").status, 200)
            self.gate.set()
            self.wait_exit(srv)
            events = self.stream_events_of(stream, run_id)
        self.assertEqual(events[-1]["event"], "run.finished", events)
        self.assertEqual(events[-1]["data"]["status"], "succeeded", events[-1])
        run = self.query_dicts("SELECT status, attempt, created FROM ferry_runs WHERE id = ?",
                               (run_id,))
        self.assertEqual(run, [{"status": "succeeded", "attempt": 1, "created": ROWS}])
        self.assertEqual(len(self.table_rows("people")), ROWS)

    def test_a_second_sigterm_ends_the_grace_and_the_run_is_queued_again(self):
        self.write(grace="10m")
        with self.serve() as srv:
            # Several browsers are watching: the run's last state is published a moment
            # before the server stops, and every stream still sends it before it ends.
            streams = [srv.events() for _ in range(STREAMS)]
            run_id = self.start_held_run(srv)
            srv.proc.send_signal(signal.SIGTERM)
            srv.wait_log('msg="stopping" signal=SIGTERM')
            srv.proc.send_signal(signal.SIGTERM)
            self.wait_exit(srv)
            self.assertIn('msg="second signal: the grace period ends now" active_runs=1',
                          srv.stderr_text())
            seen = [self.stream_events_of(stream, run_id) for stream in streams]
            log = srv.stderr_text()
        # The stream's last word on the run is the state the store holds: queued again.
        for events in seen:
            self.assertEqual(events[-1]["event"], "run.queued",
                             ([ev["event"] for ev in events], log))
        events = seen[0]
        self.assertEqual((events[-1]["data"]["status"], events[-1]["data"]["attempt"]),
                         ("queued", 1), events[-1])
        stored = self.query_dicts("SELECT status, attempt, lease_owner, error FROM ferry_runs")
        self.assertEqual(stored, [{"status": "queued", "attempt": 1, "lease_owner": None,
                                   "error": None}])
        self.assertFalse(self.table_exists("people"), "the run's transaction was rolled back")
        # The next server runs it, as the same run, from the start.
        self.gate.set()
        with self.serve() as srv:
            run = srv.wait_run(run_id, timeout=30)
            self.assertEqual((run["status"], run["attempt"], run["counts"]["created"]),
                             ("succeeded", 1, ROWS), run)

    def test_the_grace_running_out_queues_the_run_again(self):
        self.write(grace="1s")
        with self.serve() as srv:
            run_id = self.start_held_run(srv)
            srv.proc.send_signal(signal.SIGTERM)
            self.wait_exit(srv, timeout=30)
            self.assertIn('msg="grace period over" active_runs=1', srv.stderr_text())
        self.assertEqual(self.query("SELECT id, status FROM ferry_runs"), [(run_id, "queued")])

    def test_sigint_stops_at_once_and_queues_the_run_again(self):
        self.write(grace="10m")
        with self.serve() as srv:
            run_id = self.start_held_run(srv)
            srv.stop()  # SIGINT: no grace; exit 0 within 10 s
            self.assertIn('msg="stopping" signal=SIGINT active_runs=1 grace_ms=0',
                          srv.stderr_text())
        self.assertEqual(self.query("SELECT id, status FROM ferry_runs"), [(run_id, "queued")])


if __name__ == "__main__":
    ferrytest.main()
