"""The throwaway PostgreSQL server of the tests (tests/pg/pgtmp.sh).

The PostgreSQL backend (the store, the target and several nodes sharing one database) is
tested against a server the tests start themselves: initialised in a temporary folder,
listening on a free loopback port, owned by a non-root user, and removed afterwards. This
checks that harness on its own: it starts, answers SQL over the URL it prints, and stops
leaving nothing behind.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

import ferrytest

PGTMP = os.path.join(ferrytest.SOURCE_ROOT, "tests", "pg", "pgtmp.sh")


class PgHarnessTest(unittest.TestCase):
    def setUp(self):
        # PostgreSQL runs as the postgres user when the tests run as root: it must be able to
        # reach the folder.
        self.parent = tempfile.mkdtemp(prefix="ferry-pg-")
        os.chmod(self.parent, 0o755)
        self.dir = os.path.join(self.parent, "cluster")
        self.addCleanup(shutil.rmtree, self.parent, True)

    def pgtmp(self, *args):
        return subprocess.run([PGTMP, *args], capture_output=True, text=True, timeout=120)

    def test_server_starts_answers_and_stops_without_a_trace(self):
        r = self.pgtmp("start", self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        url = r.stdout.strip()
        try:
            self.assertRegex(url, r"^postgres://ferry@127\.0\.0\.1:\d+/ferry$")
            q = subprocess.run(["psql", url, "-At", "-c", "SELECT 40 + 2"], capture_output=True,
                               text=True, timeout=30)
            self.assertEqual((q.returncode, q.stdout.strip()), (0, "42"), q.stderr)
        finally:
            s = self.pgtmp("stop", self.dir)
        self.assertEqual(s.returncode, 0, s.stderr)
        self.assertFalse(os.path.exists(self.dir))

    def test_start_refuses_a_folder_that_exists(self):
        os.mkdir(self.dir)
        r = self.pgtmp("start", self.dir)
        self.assertEqual(r.returncode, 2)
        self.assertIn("already exists", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
