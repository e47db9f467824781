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

import glob
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import ferrytest
from ferrytest import people_rows, sync_config

HEADER = ["id", "name", "email"]
PGTMP = os.path.join(ferrytest.SOURCE_ROOT, "tests", "pg", "pgtmp.sh")


def pg_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


@unittest.skipIf(ferrytest.ON_POSTGRES, "runs once, in the integration suite (it is PostgreSQL-only)")
class PgRestartTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        if pg_bindir() is None or not os.path.exists(PGTMP):
            self.skipTest("PostgreSQL is not installed")
        parent = tempfile.mkdtemp(prefix="ferry-pg-")
        os.chmod(parent, 0o755)  # as root, the server runs as postgres and must reach it
        self.addCleanup(shutil.rmtree, parent, ignore_errors=True)
        self.pgdir = os.path.join(parent, "pg")
        r = subprocess.run(["sh", PGTMP, "start", self.pgdir], capture_output=True, text=True,
                           timeout=120)
        self.assertEqual(r.returncode, 0, "pgtmp.sh start: %s" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["sh", PGTMP, "stop", self.pgdir], capture_output=True,
                        timeout=120)
        self.url = r.stdout.strip()
        with open(os.path.join(self.pgdir, "port")) as f:
            self.port = f.read().strip()
        url, self.gate = self.gated_csv_route("/people.csv", HEADER, people_rows(200))
        self.write_file("ferry.yaml", ferrytest.config_text({"people": sync_config(url)},
                                                            database=self.url))

    def pg_ctl(self, *args):
        cmd = [os.path.join(pg_bindir(), "pg_ctl"), "-D", os.path.join(self.pgdir, "data")]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)

    def stop_pg(self):
        self.pg_ctl("-m", "fast", "-w", "-t", "60", "stop")

    def start_pg(self):
        self.pg_ctl("-l", os.path.join(self.pgdir, "server.log"), "-w", "-t", "60", "-o",
                    "-h 127.0.0.1 -p %s -k %s -c fsync=off -c synchronous_commit=off"
                    % (self.port, self.pgdir), "start")


    def test_a_run_whose_end_cannot_be_written_is_announced_only_once_stored(self):
        with self.serve() as srv:
            stream = srv.events()
            run_id = srv.start_run("people")["id"]
            srv.wait_run(run_id, lambda r: r["status"] == "running" and r["phase"] == "fetching",
                         timeout=15, what="to fetch")
            self.stop_pg()
            self.gate.set()  # the run goes on, and fails on the lost connection
            srv.wait_log('msg="recording the run\'s end failed; trying again until the '
                         'database takes it" run=%d' % run_id, timeout=30)
            # Nothing was announced: the store cannot say the run ended.
            early = stream.events_until(lambda e: e["event"] == "run.finished", timeout=1)
            self.assertEqual([e for e in early if e["event"] == "run.finished"], [], early)
            self.start_pg()
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
