"""Syncing into an application's own table, whose columns have native types.

A table of every common column type (created here as an application would: boolean, the
integers, numeric(p,s), real, double precision, date, timestamp, timestamptz, time, uuid,
jsonb, varchar(n), text on PostgreSQL; the declared types an application writes on SQLite):
values are written in the column's type and compared by value, so identical syncs are
unchanged, the same values written another way are unchanged, a change to each column is
one update whose diff shows the values as a person writes them, and a value a column cannot
hold fails only its record, with a reason naming the column. Ferry runs with a time zone far
from UTC, which changes nothing: timestamp without time zone columns hold UTC.
"""

import json
import subprocess

import ferrytest
from ferrytest import ON_POSTGRES, csv_text, sync_config

HEADER = ["id", "active", "rank", "big", "fee", "ratio", "score", "born", "seen_at",
          "local_at", "alarm", "ref", "meta", "code", "note"]

FIELDS = {
    "id": {},
    "active": {"type": "boolean"},
    "rank": {"type": "integer"},
    "big": {"type": "integer"},
    "fee": {"type": "decimal"},
    "ratio": {"type": "decimal"},
    "score": {"type": "decimal"},
    "born": {"type": "date"},
    "seen_at": {"type": "datetime"},
    "local_at": {"type": "datetime"},
    "alarm": {},
    "ref": {},
    "meta": {},
    "code": {},
    "note": {},
}

PG_TABLE = """CREATE TABLE gear (
    id text PRIMARY KEY, active boolean, rank smallint, big bigint, fee numeric(10,2),
    ratio real, score double precision, born date, seen_at timestamptz,
    local_at timestamp(6), alarm time, ref uuid, meta jsonb, code varchar(10), note text)"""

SQLITE_TABLE = """CREATE TABLE gear (
    id VARCHAR(20) NOT NULL PRIMARY KEY, active BOOLEAN, rank SMALLINT, big INTEGER,
    fee DECIMAL(10,2), ratio REAL, score NUMERIC, born DATE, seen_at DATETIME,
    local_at DATETIME, alarm TIME, ref UUID, meta JSON, code VARCHAR(10), note TEXT)"""

UUID1 = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
UUID2 = "6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab"

G1 = ["G1", "true", "7", "9007199254740993", "92", "0.5", "2.25", "2024-03-01",
      "2024-03-01T10:00:00+01:00", "2024-03-01 09:00:00", "09:00", UUID1,
      '{"b": 2, "a": [1, 2]}', "ABC", "hello"]
G2 = ["G2", "no", "-3", "0", "1.5", "1", "0.1", "1999-12-31", "2023-12-31T23:59:59.5Z",
      "2023-12-31T23:59:59Z", "18:30:15", UUID2, "{}", "XY", "x"]

# The same values as G1, written another way.
G1_AGAIN = ["G1", "YES", "07", "9007199254740993", "92.00", "0.50", "2.250", "2024-03-01",
            "2024-03-01T09:00:00Z", "2024-03-01T10:00:00+01:00", "09:00:00", UUID1.upper(),
            '{"a":[1,2],"b":2}', "ABC", "hello"]

# A change to every column of G1.
G1_CHANGED = ["G1", "false", "8", "9007199254740994", "92.5", "0.25", "2.5", "2024-03-02",
              "2024-03-01T09:30:00Z", "2024-03-01T09:30:00Z", "09:15", UUID2,
              '{"a": [1, 2], "b": 3}', "ABD", "bye"]

G1_DIFF = {
    "active": ["true", "false"],
    "rank": ["7", "8"],
    "big": ["9007199254740993", "9007199254740994"],
    "fee": ["92", "92.5"],
    "ratio": ["0.5", "0.25"],
    "score": ["2.25", "2.5"],
    "born": ["2024-03-01", "2024-03-02"],
    "seen_at": ["2024-03-01T09:00:00Z", "2024-03-01T09:30:00Z"],
    "local_at": ["2024-03-01T09:00:00Z", "2024-03-01T09:30:00Z"],
    "alarm": ["09:00:00", "09:15:00"],
    "ref": [UUID1, UUID2],
    "meta": ['{"a":[1,2],"b":2}', '{"a":[1,2],"b":3}'],
    "code": ["ABC", "ABD"],
    "note": ["hello", "bye"],
}

# Far from UTC, with daylight saving: a timestamp read or written in the process's or the
# session's zone would be hours off.
FAR_ZONE = {"TZ": "Pacific/Auckland", "PGTZ": "Pacific/Auckland"}


class NativeTypesTest(ferrytest.FerryTestCase):
    def write_rows(self, rows):
        self.write_file("gear.csv", csv_text(HEADER, rows))

    def create_table(self):
        if not ON_POSTGRES:
            self.db_exec(SQLITE_TABLE)
            return
        subprocess.run(["psql", self.database, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                        PG_TABLE], check=True, capture_output=True, timeout=60)

    def sync_far(self):
        code, out, err = self.run_ferry("sync", "t", env=FAR_ZONE)
        self.assertEqual(code, 0, "ferry sync t exited %d\n%s\n%s" % (code, out, err))
        return self.last_run()

    def counts(self, run):
        return {k: run[k] for k in ("status", "created", "updated", "unchanged", "failed")}

    def expect(self, run, created=0, updated=0, unchanged=0, failed=0):
        self.assertEqual(self.counts(run), {"status": "succeeded", "created": created,
                                            "updated": updated, "unchanged": unchanged,
                                            "failed": failed})

    def test_every_type_is_written_natively_and_compared_by_value(self):
        self.create_table()
        self.write_config({"t": sync_config("gear.csv", table="gear", fields=FIELDS,
                                            on_missing="delete")})
        self.write_rows([G1, G2])
        self.expect(self.sync_far(), created=2)

        # Stored in the columns' own types, instants in UTC.
        if ON_POSTGRES:
            self.assertEqual(self.query(
                "SELECT active, rank, fee::text AS fee, seen_at = '2024-03-01T09:00:00Z' AS at,"
                " local_at::text AS local, alarm::text AS alarm, ref::text AS ref,"
                " meta->>'b' AS b, born::text AS born FROM gear WHERE id = 'G1'"),
                [(True, 7, "92.00", True, "2024-03-01 09:00:00", "09:00:00", UUID1, "2",
                  "2024-03-01")])
        else:
            self.assertEqual(self.query(
                "SELECT active, typeof(active), rank, fee, typeof(fee), seen_at, local_at"
                " FROM gear WHERE id = 'G1'"),
                [(1, "integer", 7, 92, "integer", "2024-03-01 09:00:00",
                  "2024-03-01 09:00:00")])
            self.assertEqual(self.query("SELECT active FROM gear WHERE id = 'G2'"), [(0,)])

        # Identical syncs: all unchanged, nothing rewritten.
        for _ in range(2):
            self.expect(self.sync_far(), unchanged=2)

        # The same values written another way (and, on SQLite, stored another way by the
        # application): unchanged.
        if not ON_POSTGRES:
            self.db_exec("UPDATE gear SET fee = '92.00', active = 'true',"
                         " seen_at = '2024-03-01T10:00:00+01:00', local_at = '2024-03-01 09:00:00.000'"
                         " WHERE id = 'G1'")
        self.write_rows([G1_AGAIN, G2])
        self.expect(self.sync_far(), unchanged=2)

        # A change to every column: one update, the diff in the values a person writes.
        self.write_rows([G1_CHANGED, G2])
        run = self.sync_far()
        self.expect(run, updated=1, unchanged=1)
        changes = self.changes(run["id"])
        self.assertEqual([(c["outcome"], c["record_key"]) for c in changes], [("updated", "G1")])
        self.assertEqual(json.loads(changes[0]["diff"]), G1_DIFF)
        self.assertEqual(list(json.loads(changes[0]["diff"])), list(G1_DIFF))
        self.assertIn("active: 'true' -> 'false', rank: '7' -> '8'", run["log_message"])
        self.expect(self.sync_far(), unchanged=2)

        # Values the columns cannot hold fail their records only; a row whose record failed is
        # kept (on_missing: delete spares it), and the other records are written.
        long_code = list(G1_CHANGED)
        long_code[13] = "ABCDEFGHIJK"
        g3 = ["G3"] + G2[1:]
        g4 = ["G4"] + G2[1:]
        g4[2] = "40000"
        g5 = ["G5"] + G2[1:]
        g5[11] = "not-a-uuid"
        g6 = ["G6"] + G2[1:]
        self.write_rows([long_code, G2, g3, g4, g5, g6])
        run = self.sync_far()
        self.expect(run, created=2, unchanged=1, failed=3)
        varchar, smallint, uuid = (("character varying(10)", "smallint", "uuid") if ON_POSTGRES
                                   else ("VARCHAR(10)", "SMALLINT", "UUID"))
        failed = {c["record_key"]: c["reason"] for c in self.changes(run["id"])
                  if c["outcome"] == "failed"}
        self.assertEqual(failed, {
            "G1": "row 2: column 'code' (%s) cannot hold 'ABCDEFGHIJK': it is longer than 10"
                  " characters" % varchar,
            "G4": "row 5: column 'rank' (%s) cannot hold '40000': it is out of range (-32768 to"
                  " 32767)" % smallint,
            "G5": "row 6: column 'ref' (%s) cannot hold 'not-a-uuid': it is not a uuid" % uuid,
        })
        self.assertEqual([r[0] for r in self.query("SELECT id FROM gear ORDER BY id")],
                         ["G1", "G2", "G3", "G6"])
        self.assertEqual(self.query("SELECT code FROM gear WHERE id = 'G1'"), [("ABD",)])

    def test_citext_compares_without_case_where_installed(self):
        if not ON_POSTGRES:
            self.skipTest("citext is a PostgreSQL extension")
        made = subprocess.run(["psql", self.database, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                               "CREATE EXTENSION IF NOT EXISTS citext", "-c",
                               "CREATE TABLE people (id text PRIMARY KEY, name citext)"],
                              capture_output=True, timeout=60)
        if made.returncode != 0:
            self.skipTest("the citext extension is not installed")
        self.write_config({"t": sync_config("people.csv", fields={"id": {}, "name": {}})})
        self.write_file("people.csv", csv_text(["id", "name"], [["P1", "Bob"]]))
        self.expect(self.sync_far(), created=1)
        self.write_file("people.csv", csv_text(["id", "name"], [["P1", "BOB"]]))
        self.expect(self.sync_far(), unchanged=1)
        self.write_file("people.csv", csv_text(["id", "name"], [["P1", "Rob"]]))
        run = self.sync_far()
        self.expect(run, updated=1)
        self.assertEqual(json.loads(self.changes(run["id"])[0]["diff"]), {"name": ["Bob", "Rob"]})


if __name__ == "__main__":
    ferrytest.main()
