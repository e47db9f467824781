"""A database that cannot be written: read-only at start, a full disk, a failing write or sync.

`ferry serve` on a database it cannot write must not start (it would say "listening" and
report healthy while every claim fails), and /healthz must answer 503 once the store stops
taking writes. Root can write any file whatever its mode, so the read-only case runs ferry as
the unprivileged user `nobody` (setpriv) on a database root owns: SQLite then opens it
read-only, as it would for any user without write permission. The other cases preload
libferry_fault.so (tests/fault/fault_shim.c, built beside the ferry binary), which fails the
database's writes and syncs as the control file says: every one from some point on (a full
disk), or the Nth one only, swept over N for a small run. After each fault the server still
answers, the run ends cleanly, a run after the faults stop succeeds, and PRAGMA
integrity_check says ok.

SQLite only: the faults are in the SQLite file's writes.
"""

# pgsuite: no (the faults are in the SQLite file's writes)

import errno
import os
import shutil
import subprocess
import tempfile
import time

import ferrytest
from ferrytest import people_rows, sync_config

HEADER = ["id", "name", "email"]
SHIM = os.path.join(os.path.dirname(os.path.abspath(ferrytest.FERRY_BIN or ".")),
                    "libferry_fault.so")


@ferrytest.sqlite_only("the faults are in the SQLite file's writes")
class FaultTestCase(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.control = self.path("fault-control")
        self.fault_gen = 0
        self.fault_env = None  # set by use_shim(): ferry then runs with the library preloaded

    def ferry_env(self, extra=None):
        env = super().ferry_env(extra)
        if self.fault_env:
            env.update(self.fault_env)
        return env

    def use_shim(self):
        if not os.path.exists(SHIM):
            self.skipTest("libferry_fault.so is not built beside %s" % ferrytest.FERRY_BIN)
        preload = SHIM
        # Under AddressSanitizer the sanitizer's runtime must come first.
        self.fault_env = {"LD_PRELOAD": preload, "FERRY_FAULT_PATH": self.db_path,
                          "FERRY_FAULT_CONTROL": self.control,
                          "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") +
                                           ":verify_asan_link_order=0").lstrip(":")}

    def fault(self, nth, count=0, err=errno.ENOSPC):
        """From now on, the database's counted writes and syncs nth to nth + count - 1 fail
        with err (count 0: every one from nth on)."""
        self.fault_gen += 1
        tmp = self.control + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d %d %d\n" % (self.fault_gen, nth, count, err))
        os.replace(tmp, self.control)  # the library never reads half a line

    def no_fault(self):
        if os.path.exists(self.control):
            os.unlink(self.control)

    def write_people(self, n, name="people.csv"):
        self.write_csv(name, HEADER, people_rows(n))
        self.write_config({"people": sync_config(name)})

    def integrity(self):
        return self.query("PRAGMA integrity_check")

    def wait_health(self, srv, status, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = srv.get("/healthz")
            if last.status == status:
                return last
            time.sleep(0.05)
        self.fail("GET /healthz did not answer %d within %ss; last %r" % (status, timeout, last))


class ReadOnlyDatabaseTest(FaultTestCase):
    def run_as_nobody(self, *args):
        setpriv = shutil.which("setpriv")
        if os.geteuid() != 0 or setpriv is None:
            self.skipTest("needs root and setpriv to run ferry as an unprivileged user")
        # A copy of the binary in a folder of its own, open to everyone: the build tree may
        # lie under a folder nobody cannot enter (a home directory).
        bindir = tempfile.mkdtemp(prefix="ferry-bin-")
        self.addCleanup(shutil.rmtree, bindir, True)
        os.chmod(bindir, 0o755)
        binary = os.path.join(bindir, "ferry")
        shutil.copy(ferrytest.FERRY_BIN, binary)
        os.chmod(binary, 0o755)
        cmd = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", binary]
        probe = subprocess.run(cmd + ["--version"], capture_output=True, timeout=30)
        self.assertEqual(probe.returncode, 0, "the user nobody cannot run a copy of ferry: %r"
                         % probe.stderr)
        p = subprocess.run(cmd + list(args), cwd=self.dir, env=self.ferry_env(),
                           capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def test_serve_on_a_read_only_database_exits_at_start_with_a_clear_message(self):
        self.write_people(3)
        self.sync("people")
        # The folder is open to everyone (SQLite may make its -wal and -shm files there), the
        # database file is root's and only readable: nobody opens it read-only.
        os.chmod(self.dir, 0o777)
        os.chmod(self.db_path, 0o644)
        code, out, err = self.run_as_nobody("serve", "--listen", "127.0.0.1:0")
        self.assertEqual(code, 1, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertNotIn("listening", out + err)
        self.assertIn("ferry: cannot write to the database ./ferry.db (", err)
        self.assertIn("readonly database", err)
        self.assertEqual(err.count("\n"), 1, err)  # one message, no flood of claim errors


class UnwritableStoreTest(FaultTestCase):
    def test_healthz_answers_503_while_the_store_refuses_writes(self):
        self.use_shim()
        self.write_people(3)
        with self.serve() as srv:
            self.fault(1, 0, errno.EROFS)
            r = self.wait_health(srv, 503)
            self.assertEqual((r.json["status"], r.json["database"]), ("unhealthy", "unwritable"), r)
            self.assertIn("error", r.json)
            self.no_fault()
            self.wait_health(srv, 200)
            self.assertEqual(srv.run_to_end("people")["counts"]["created"], 3)
        self.assertEqual(self.integrity(), [("ok",)])


def round_rows(n, k):
    """n people whose names carry k: each round's run updates every row."""
    return [[i, "%s r%d" % (name, k), email] for i, name, email in people_rows(n)]


class DiskFullTest(FaultTestCase):
    def test_a_full_disk_fails_the_run_cleanly_and_serving_goes_on(self):
        self.use_shim()
        url, gate = self.gated_csv_route("/people.csv", HEADER, round_rows(400, 1))
        self.write_csv("people.csv", HEADER, people_rows(400))
        self.write_config({"people": sync_config("people.csv"),
                           "slow": sync_config(url)})
        with self.serve() as srv:
            srv.run_to_end("people")
            run_id = srv.start_run("slow")["id"]
            srv.wait_run(run_id, lambda r: r["status"] == "running" and r["phase"] == "fetching",
                         timeout=15, what="to fetch")
            self.fault(1, 0, errno.ENOSPC)  # the disk is full from now on
            gate.set()
            r = self.wait_health(srv, 503)
            self.assertEqual(r.json["database"], "unwritable", r)
            # A click answers with an error, and the server goes on answering.
            click = srv.post("/api/syncs/people/runs")
            self.assertGreaterEqual(click.status, 500, click)
            self.assertEqual(srv.get("/healthz").status, 503)
            self.no_fault()  # space again: the run's end is written, and announced
            run = srv.wait_run(run_id, timeout=30)
            self.assertEqual(run["status"], "failed", run)
            self.assertIn("full", run["error"])
            self.wait_health(srv, 200)
            self.assertEqual(srv.run_to_end("people")["counts"]["unchanged"], 400)
        self.assertEqual(self.integrity(), [("ok",)])
        self.assertEqual(self.table_rows("people"), [tuple(r) for r in people_rows(400)])
        self.assertEqual(self.query("SELECT count(*) FROM ferry_runs WHERE status IN"
                                    " ('running', 'queued')"), [(0,)])


class WriteFaultSweepTest(FaultTestCase):
    ROWS = 30
    MAX_ROUNDS = 24

    def test_a_failing_write_or_sync_anywhere_in_a_run_leaves_a_sound_database(self):
        self.use_shim()
        tally = self.path("fault-tally")
        self.fault_env["FERRY_FAULT_TALLY"] = tally
        self.write_csv("people.csv", HEADER, round_rows(self.ROWS, 0))
        self.write_config({"people": sync_config("people.csv")})
        with self.serve() as srv:
            srv.run_to_end("people")
            # How many writes and syncs of the database a run that updates every row makes
            # (with a fault it never reaches), the requests around it included.
            self.write_csv("people.csv", HEADER, round_rows(self.ROWS, 1))
            self.fault(10 ** 9)
            srv.run_to_end("people")
            with open(tally) as f:
                total = int(f.read())
            self.no_fault()
            self.assertGreater(total, 2)
            step = max(1, total // self.MAX_ROUNDS)
            print("\n%d counted writes and syncs in a run; sweeping N over 1..%d, step %d"
                  % (total, total, step))
            for k, nth in enumerate(range(1, total + 1, step), start=2):
                err = errno.EIO if k % 2 else errno.ENOSPC
                with self.subTest(nth=nth, errno=errno.errorcode[err]):
                    self.write_csv("people.csv", HEADER, round_rows(self.ROWS, k))
                    self.fault(nth, 1, err)
                    click = srv.post("/api/syncs/people/runs")
                    if click.status >= 500:  # the fault hit the click's own write
                        click = srv.post("/api/syncs/people/runs")
                    self.assertIn(click.status, (200, 202), click)
                    run = srv.wait_run(click.json["id"], timeout=30)
                    self.assertIn(run["status"], ("succeeded", "failed"), run)
                    self.wait_health(srv, 200)  # one fault, then the store takes writes again
                    self.no_fault()
                    again = srv.run_to_end("people")
                    self.assertEqual(again["counts"]["failed"], 0, again)
                    self.assertEqual(self.integrity(), [("ok",)])
                    self.assertEqual(self.table_rows("people"),
                                     [tuple(r) for r in round_rows(self.ROWS, k)])
                    self.assertEqual(self.query("SELECT count(*) FROM ferry_runs WHERE status IN"
                                                " ('running', 'queued')"), [(0,)])
        self.assertEqual(self.integrity(), [("ok",)])


if __name__ == "__main__":
    ferrytest.main()
