"""PostgreSQL going away under a run: the event stream says only what the store recorded.

The test starts a PostgreSQL server of its own (tests/pg/pgtmp.sh), so stopping and starting
it disturbs no other test. A run's source stops after its first rows until the test opens a
gate; meanwhile the server is stopped. When the run then fails on the lost connection, its
end cannot be written: Ferry must not announce `failed` while the store still says
`running`, and must write the end (reconnecting) within seconds of the server being back,
not leave the run `running` until its lease (5 minutes) runs out. Then the stream's last
word on the run and the store agree.
"""

# pgsuite: no (it starts a PostgreSQL server of its own)

import unittest

import ferrytest
from ferrytest import people_rows, sync_config

HEADER = ["id", "name", "email"]


@unittest.skipIf(ferrytest.ON_POSTGRES, "runs once, in the integration suite (it is PostgreSQL-only)")
class PgRestartTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.pg = ferrytest.OwnPgServer(self)
        url, self.gate = self.gated_csv_route("/people.csv", HEADER, people_rows(200))
        self.write_file("ferry.yaml", ferrytest.config_text({"people": sync_config(url)},
                                                            database=self.pg.url))

    def test_a_run_whose_end_cannot_be_written_is_announced_only_once_stored(self):
        with self.serve() as srv:
            stream = srv.events()
            run_id = srv.start_run("people")["id"]
            srv.wait_run(run_id, lambda r: r["status"] == "running" and r["phase"] == "fetching",
                         timeout=15, what="to fetch")
            self.pg.stop()
            self.gate.set()  # the run goes on, and fails on the lost connection
            srv.wait_log('msg="recording the run\'s end failed; trying again until the '
                         'database takes it" run=%d' % run_id, timeout=30)
            # Nothing was announced: the store cannot say the run ended.
            early = stream.events_until(lambda e: e["event"] == "run.finished", timeout=1)
            self.assertEqual([e for e in early if e["event"] == "run.finished"], [], early)
            self.pg.start()
            events = stream.events_until(
                lambda e: e["event"] == "run.finished" and e["data"]["id"] == run_id, timeout=30)
            self.assertTrue(events and events[-1]["event"] == "run.finished", events)
            announced = events[-1]["data"]
            stored = srv.get_json("/api/runs/%d" % run_id)
            self.assertEqual(stored["status"], "failed", stored)
            for key in ("status", "error", "error_code", "ui_message", "finished_at"):
                self.assertEqual(announced[key], stored[key], key)
            self.assertIn("connection", stored["error"])


if __name__ == "__main__":
    ferrytest.main()
