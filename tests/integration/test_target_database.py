"""A sync whose table lives in another database than Ferry's own tables (target.database).

The runs and their change rows stay in the config's database; the rows land in the target's
database, which gets no ferry_* tables. Checked with the target on SQLite and on PostgreSQL
(and, in the PostgreSQL rerun of the suite, with Ferry's own tables on PostgreSQL too): a
first run creates, a second finds everything unchanged, an edit is one update with its diff,
and a run that fails half-way leaves both databases as they were, without change rows.
"""

import json
import re
import signal
import sqlite3
import time

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]


class TargetDatabaseTest(ferrytest.FerryTestCase):
    def write_sync(self, target_database, rows, url="people.csv"):
        self.write_file("people.csv", csv_text(HEADER, rows))
        sync = sync_config(url)
        sync["target"]["database"] = target_database
        self.write_config({"t": sync})

    def check_round_trip(self, target_database, read_target):
        rows = people_rows(5)
        self.write_sync(target_database, rows)
        self.sync("t")
        self.assertEqual(read_target("SELECT id, name, email FROM people ORDER BY id"),
                         [tuple(r) for r in rows])
        # The runs are in the config's database, the rows are not.
        self.assertFalse(self.table_exists("people"))
        run = self.last_run()
        self.assertEqual((run["status"], run["created"]), ("succeeded", 5))
        self.assertEqual(len(self.changes(run["id"])), 5)

        self.sync("t")
        self.assertEqual((self.last_run()["unchanged"], self.last_run()["created"]), (5, 0))

        rows[2][2] = "new@example.com"
        self.write_sync(target_database, rows)
        self.sync("t")
        run = self.last_run()
        self.assertEqual(run["updated"], 1)
        self.assertEqual([json.loads(c["diff"]) for c in self.changes(run["id"])],
                         [{"email": ["p2@example.com", "new@example.com"]}])

        # A run stopped half-way (Ctrl-C while a slow source is still arriving, after some
        # rows were applied) changes nothing, in either database, and leaves no change rows.
        body = csv_text(HEADER, people_rows(60, start=100)).encode()
        url = self.server.route("/slow.csv", body=body, drip_bytes=len(body) // 30 + 1,
                                drip_pause=0.2)
        self.write_sync(target_database, rows, url=url)
        before = read_target("SELECT id, name, email FROM people ORDER BY id")
        proc = self.start_ferry("sync", "t")
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        self.assertEqual(proc.wait(timeout=15), 130)
        run = self.last_run()
        self.assertEqual(run["status"], "cancelled")
        self.assertEqual(self.changes(run["id"]), [])
        self.assertEqual(read_target("SELECT id, name, email FROM people ORDER BY id"), before)

    def test_target_on_sqlite(self):
        def read_target(sql):
            con = sqlite3.connect(self.path("data.db"))
            try:
                return con.execute(sql).fetchall()
            finally:
                con.close()
        self.check_round_trip("sqlite:data.db", read_target)
        con = sqlite3.connect(self.path("data.db"))
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        con.close()
        self.assertEqual(tables, ["people"], "no ferry_* tables in the target's database")

    def test_target_on_postgres(self):
        url = ferrytest.pg_new_database()

        def read_target(sql):
            return [tuple(d.values()) for d in ferrytest.pg_query_dicts(url, sql)]
        self.check_round_trip(url, read_target)
        tables = read_target("SELECT table_name FROM information_schema.tables"
                             " WHERE table_schema = 'public'")
        self.assertEqual(tables, [("people",)], "no ferry_* tables in the target's database")

    def test_an_unreachable_target_database_fails_the_run_without_its_password(self):
        port = ferrytest.closed_port()
        self.write_sync("postgres://app:hunter2secret@127.0.0.1:%d/app" % port, people_rows(2))
        out, err = self.sync("t", expect=1)
        self.assertIn("target.database", out + err)
        self.assertNotIn("hunter2secret", out + err)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        self.assertNotIn("hunter2secret", (run["error"] or "") + (run["log_message"] or ""))


class PgEnvironmentTest(ferrytest.FerryTestCase):
    def test_a_bare_postgres_url_takes_the_rest_from_pg_variables(self):
        url = ferrytest.pg_new_database()
        m = re.match(r"postgres://(\w+)@([\d.]+):(\d+)/(\w+)$", url)
        self.assertIsNotNone(m, url)
        self.write_file("people.csv", csv_text(HEADER, people_rows(2)))
        self.write_file("ferry.yaml", json.dumps(
            {"database": "postgresql://", "syncs": {"t": sync_config("people.csv")}}))
        env = {"PGUSER": m.group(1), "PGHOST": m.group(2), "PGPORT": m.group(3),
               "PGDATABASE": m.group(4)}
        code, out, err = self.run_ferry("sync", "t", env=env)
        self.assertEqual(code, 0, err)
        rows = ferrytest.pg_query_dicts(url, "SELECT id FROM people ORDER BY id")
        self.assertEqual([r["id"] for r in rows], ["P0000000", "P0000001"])


if __name__ == "__main__":
    ferrytest.main()
