"""Syncing into an application's own tables: the tables Rails, Django and Laravel create.

Each framework's DDL (fixtures/apptables/, on SQLite here and on PostgreSQL in the pgsuite
rerun) is loaded into the test's database, then a CSV of therapists is synced into it with
target.timestamps on: the id comes from the database, records match on the unique email, a
first run creates, two identical re-runs find everything unchanged and leave created_at and
updated_at alone, and a run with one change updates exactly that row (exact diff) and bumps
its updated_at only. Every refusal (no unique index on the key, NOT NULL columns nothing
fills, a missing timestamp column, a field without a column) names the table, the column and
the fix, exits non-zero and changes nothing; ferry check says the same. ferry migrate
--targets adds missing columns to the tables Ferry created and to no others.

Identical re-syncs on PostgreSQL: the boolean column is left out of the mapping there (and
Django's, NOT NULL without a default, is given one), as boolean values are still compared
as text (true against 1) until native types are compared by value; the decimals have two
fraction digits for the same reason (numeric(10,2) reads 120.50 where Ferry wrote 120.5).
Every other column (numeric, date, uuid, jsonb, timestamps) is synced on both backends.
"""

import datetime
import json
import os
import re
import sqlite3
import subprocess
import time

import ferrytest
from ferrytest import ON_POSTGRES

FIXTURES = os.path.join(ferrytest.HERE, "fixtures", "apptables")
BACKEND_NAME = "postgres" if ON_POSTGRES else "sqlite"

HEADER = ["email", "name", "location_id", "active", "hourly_rate", "started_on",
          "external_id", "profile"]
ROWS = [
    ["ayu@clinic.example", "Ayu", "1", "true", "120.75", "2024-03-01",
     "6f1c2b1e-1d5e-4c1a-9f3e-0a1b2c3d4e5f", '{"langs": ["id", "en"]}'],
    ["budi@clinic.example", "Budi", "2", "false", "95.25", "2023-11-15",
     "0b7f7f2a-6a47-4a52-8c1e-2f3a4b5c6d7e", '{"langs": ["id"]}'],
    ["citra@clinic.example", "Citra", "1", "true", "150.25", "2022-01-10",
     "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", '{"langs": ["en"]}'],
]
UTC_MICROS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def fields(without=()):
    f = {
        "email": {"type": "email"},
        "name": {"required": True},
        "location_id": {"type": "integer"},
        "active": {"type": "boolean"},
        "hourly_rate": {"type": "decimal"},
        "started_on": {"type": "date"},
        "external_id": {},
        "profile": {},
    }
    if ON_POSTGRES:
        without = tuple(without) + ("active",)
    return {k: v for k, v in f.items() if k not in without}


class AppTablesTest(ferrytest.FerryTestCase):
    def load_ddl(self, framework):
        with open(os.path.join(FIXTURES, "%s_%s.sql" % (framework, BACKEND_NAME))) as f:
            ddl = f.read()
        self.exec_script(ddl)
        if ON_POSTGRES and framework == "django":  # see the module's docstring
            self.exec_script("ALTER TABLE therapists ALTER COLUMN active SET DEFAULT true;")
        self.exec_script("INSERT INTO locations (name, created_at, updated_at) VALUES"
                         " ('Jakarta', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),"
                         " ('Bandung', '2024-01-01 00:00:00', '2024-01-01 00:00:00');")

    def exec_script(self, sql):
        if ON_POSTGRES:
            r = subprocess.run(["psql", self.database, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                               input=sql, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return
        con = sqlite3.connect(self.db_path)
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()

    def write_sync(self, rows, target=None, without=()):
        cols = [c for c in HEADER if c in fields(without)]
        self.write_csv("therapists.csv", cols, [[r[HEADER.index(c)] for c in cols] for r in rows])
        t = {"table": "therapists", "key": "email", "timestamps": True}
        t.update(target or {})
        self.write_config({"therapists": {
            "source": {"url": "therapists.csv"}, "target": t, "fields": fields(without)}})

    def stamps(self):
        return {r[0]: (str(r[1]), str(r[2])) for r in self.query(
            "SELECT email, created_at, updated_at FROM therapists ORDER BY email")}

    def therapists(self):
        return self.query("SELECT * FROM therapists ORDER BY id")

    def counts(self):
        run = self.last_run()
        return run["status"], run["created"], run["updated"], run["unchanged"]

    def check_framework(self, framework):
        self.load_ddl(framework)
        rows = [list(r) for r in ROWS]
        if framework == "django" and not ON_POSTGRES:
            # Django keeps a UUIDField in char(32) on SQLite: 32 hex digits, no hyphens (a
            # 36-character uuid would fail its record: too long for the column).
            for r in rows:
                r[HEADER.index("external_id")] = r[HEADER.index("external_id")].replace("-", "")
        self.write_sync(rows)
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0))
        # The database gave the ids; the key matched nothing, so each row is new.
        self.assertEqual(self.query("SELECT id, email FROM therapists ORDER BY id"),
                         [(1, "ayu@clinic.example"), (2, "budi@clinic.example"),
                          (3, "citra@clinic.example")])
        first = self.stamps()
        for created, updated in first.values():
            self.assertEqual(created, updated)
            if not ON_POSTGRES:
                self.assertRegex(created, UTC_MICROS)
        table = self.therapists()

        for _ in range(2):
            time.sleep(1.1)  # a bumped updated_at would differ even at whole seconds
            self.sync("therapists")
            self.assertEqual(self.counts(), ("succeeded", 0, 0, 3))
            self.assertEqual(self.changes(self.last_run()["id"]), [])
            self.assertEqual(self.stamps(), first)
            self.assertEqual(self.therapists(), table)

        rows[1][1] = "Budi Santoso"
        self.write_sync(rows)
        time.sleep(1.1)
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 0, 1, 2))
        self.assertEqual([json.loads(c["diff"]) for c in self.changes(self.last_run()["id"])],
                         [{"name": ["Budi", "Budi Santoso"]}])
        after = self.stamps()
        self.assertEqual(after["ayu@clinic.example"], first["ayu@clinic.example"])
        self.assertEqual(after["citra@clinic.example"], first["citra@clinic.example"])
        created, updated = after["budi@clinic.example"]
        self.assertEqual(created, first["budi@clinic.example"][0])
        self.assertGreater(updated, first["budi@clinic.example"][1])
        self.assertEqual(self.query("SELECT id FROM therapists WHERE name = 'Budi Santoso'"),
                         [(2,)])

    def test_rails(self):
        self.check_framework("rails")

    def test_django(self):
        self.check_framework("django")

    def test_laravel(self):
        self.check_framework("laravel")

    def test_timestamps_are_utc_whatever_the_time_zone(self):
        self.load_ddl("rails")
        self.write_sync(ROWS)
        env = {"TZ": "Asia/Jakarta", "PGTZ": "America/New_York"}
        code, out, err = self.run_ferry("sync", "therapists", env=env)
        self.assertEqual(code, 0, out + err)
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        for created, _ in self.stamps().values():
            stamp = datetime.datetime.strptime(created[:19].replace("T", " "),
                                               "%Y-%m-%d %H:%M:%S")
            self.assertLess(abs((stamp - now).total_seconds()), 120, created)

    def test_named_timestamp_columns(self):
        self.load_ddl("rails")
        self.exec_script("ALTER TABLE therapists RENAME COLUMN created_at TO inserted_at;"
                         "ALTER TABLE therapists RENAME COLUMN updated_at TO modified_at;")
        self.write_sync(ROWS, {"timestamps": {"created": "inserted_at",
                                              "updated": "modified_at"}})
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0))
        self.assertEqual(self.query("SELECT count(*) FROM therapists"
                                    " WHERE inserted_at = modified_at"), [(3,)])

    def test_flagging_a_missing_row_bumps_its_updated_at(self):
        self.load_ddl("rails")
        self.write_sync(ROWS, {"on_missing": "flag"})
        self.sync("therapists")
        first = self.stamps()
        self.write_sync(ROWS[:2], {"on_missing": "flag"})
        time.sleep(1.1)
        self.sync("therapists", "--allow-missing")
        after = self.stamps()
        self.assertEqual(self.query("SELECT email FROM therapists"
                                    " WHERE ferry_missing_since IS NOT NULL"),
                         [("citra@clinic.example",)])
        self.assertEqual(after["citra@clinic.example"][0], first["citra@clinic.example"][0])
        self.assertGreater(after["citra@clinic.example"][1], first["citra@clinic.example"][1])
        for email in ("ayu@clinic.example", "budi@clinic.example"):
            self.assertEqual(after[email], first[email])

    def check_flag_column(self, flag, without, flagged_rows, cleared_rows, diff):
        """Removes Citra, then brings her back, with target.flag naming the app's column."""
        target = {"on_missing": "flag", "flag": flag}
        self.write_sync(ROWS, target, without=without)
        self.sync("therapists")
        first = self.stamps()
        self.write_sync(ROWS[:2], target, without=without)
        time.sleep(1.1)
        out, _ = self.sync("therapists", "--allow-missing")
        self.assertIn("0 created, 0 updated, 2 unchanged, 0 skipped, 0 failed, "
                      "1 flagged as missing.", out)
        self.assertNotIn("ferry_missing_since", self.columns("therapists"))
        column = flag["column"]
        self.assertEqual(self.query(flagged_rows), [("citra@clinic.example",)])
        after = self.stamps()
        self.assertEqual(after["citra@clinic.example"][0], first["citra@clinic.example"][0])
        self.assertGreater(after["citra@clinic.example"][1], first["citra@clinic.example"][1])
        for email in ("ayu@clinic.example", "budi@clinic.example"):
            self.assertEqual(after[email], first[email])
        run = self.last_run()
        self.assertEqual(run["deleted"], 1)
        self.assertEqual([(c["outcome"], c["record_key"], c["reason"])
                          for c in self.changes(run["id"])],
                         [("deleted", "citra@clinic.example",
                           "no longer in the source: flagged as missing")])
        if column == "deleted_at":  # the run's time, as updated_at is written
            self.assertEqual(self.query("SELECT count(*) FROM therapists"
                                        " WHERE deleted_at = updated_at"), [(1,)])

        # Still missing: nothing changes.
        flagged_table = self.therapists()
        out, _ = self.sync("therapists", "--allow-missing")
        self.assertIn("0 flagged as missing.", out)
        self.assertEqual(self.therapists(), flagged_table)

        # Citra comes back: the flag is cleared, an update with the flag column in its diff.
        self.write_sync(ROWS, target, without=without)
        time.sleep(1.1)
        out, _ = self.sync("therapists")
        self.assertIn("0 created, 1 updated, 2 unchanged, 0 skipped, 0 failed, "
                      "0 flagged as missing.", out)
        self.assertEqual(self.query(flagged_rows), [])
        self.assertEqual(self.query(cleared_rows), [(3,)])
        changes = self.changes(self.last_run()["id"])
        self.assertEqual([(c["outcome"], c["record_key"]) for c in changes],
                         [("updated", "citra@clinic.example")])
        self.assertEqual(diff(json.loads(changes[0]["diff"])), True)
        back = self.stamps()
        self.assertGreater(back["citra@clinic.example"][1], after["citra@clinic.example"][1])
        for email in ("ayu@clinic.example", "budi@clinic.example"):
            self.assertEqual(back[email], first[email])

    def test_flag_sets_the_apps_deleted_at(self):
        self.load_ddl("rails")
        self.exec_script("ALTER TABLE therapists ADD COLUMN deleted_at %s;"
                         % ("timestamp(6)" if ON_POSTGRES else "datetime(6)"))
        self.check_flag_column(
            {"column": "deleted_at"}, (),
            "SELECT email FROM therapists WHERE deleted_at IS NOT NULL",
            "SELECT count(*) FROM therapists WHERE deleted_at IS NULL",
            lambda d: list(d) == ["deleted_at"] and d["deleted_at"][0] is not None
            and d["deleted_at"][1] is None)

    def test_flag_sets_the_apps_boolean_to_the_value_given(self):
        self.load_ddl("rails")
        self.check_flag_column(
            {"column": "active", "value": False}, ("active",),
            "SELECT email FROM therapists WHERE NOT active",
            "SELECT count(*) FROM therapists WHERE active",
            lambda d: d == {"active": ["false", "true"]})

    def test_flag_column_missing_from_the_table_is_refused(self):
        self.load_ddl("rails")
        self.write_sync(ROWS, {"on_missing": "flag", "flag": {"column": "deleted_at"}})
        self.assert_refused("table therapists has no column 'deleted_at' for target.flag")
        self.assertNotIn("ferry_missing_since", self.columns("therapists"))

    def test_flag_without_on_missing_flag_is_a_config_error(self):
        self.load_ddl("rails")
        self.write_sync(ROWS, {"on_missing": "delete", "flag": {"column": "deleted_at"}})
        code, out, err = self.run_ferry("check")
        self.assertNotEqual(code, 0, out + err)
        self.assertIn("flag needs on_missing: flag", err)

    # -- refusals: each names the table, the column and the fix, and changes nothing --

    def assert_refused(self, *expected):
        before = self.therapists()
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 2, out + err)
        for text in expected:
            self.assertIn(text, err)
        runs = len(self.runs()) if self.table_exists("ferry_runs") else 0
        out, err = self.sync("therapists", expect=1)
        for text in expected:
            self.assertIn(text, out + err)
        self.assertEqual(self.therapists(), before)
        self.assertEqual(len(self.runs()), runs + 1)
        self.assertEqual(self.last_run()["status"], "failed")

    def test_key_without_a_unique_index_is_refused_with_the_index_to_create(self):
        self.load_ddl("rails")
        self.exec_script('DROP INDEX "index_therapists_on_email";')
        self.write_sync(ROWS)
        self.assert_refused(
            "table therapists has no primary key or unique index on (email)",
            'CREATE UNIQUE INDEX "therapists_email_key" ON "therapists" ("email")')
        self.exec_script('CREATE UNIQUE INDEX "therapists_email_key" ON "therapists" ("email");')
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0))

    def test_not_null_columns_nothing_fills_are_named_at_once(self):
        self.load_ddl("rails")
        self.write_sync(ROWS, without=("location_id",), target={"timestamps": False})
        self.assert_refused("table therapists has NOT NULL columns 'location_id', 'created_at', "
                            "'updated_at' without a default that no field fills: map them or "
                            "give them defaults")

    def test_missing_timestamp_column_is_refused(self):
        self.load_ddl("laravel")
        self.write_sync(ROWS, {"timestamps": {"updated": "modified_at"}})
        self.assert_refused("table therapists has no column 'modified_at' for target.timestamps",
                            'ALTER TABLE "therapists" ADD COLUMN "modified_at"')

    def test_field_without_a_column_is_refused_with_the_alter_table(self):
        self.load_ddl("django")
        self.write_sync(ROWS)
        self.sync("therapists")
        f = fields()
        f["phone"] = {}
        self.write_csv("therapists.csv", [c for c in HEADER if c in f] + ["phone"],
                       [[r[HEADER.index(c)] for c in HEADER if c in f] + ["0812"] for r in ROWS])
        self.write_config({"therapists": {
            "source": {"url": "therapists.csv"},
            "target": {"table": "therapists", "key": "email", "timestamps": True},
            "fields": f}})
        self.assert_refused(
            "table therapists exists but has no column 'phone' for field 'phone'",
            'ALTER TABLE "therapists" ADD COLUMN "phone" TEXT')
        # Not Ferry's table: migrate --targets leaves it alone and says what to run.
        code, out, err = self.run_ferry("migrate", "--targets")
        self.assertEqual(code, 1, out + err)
        self.assertIn("table therapists was not created by Ferry", err)
        self.assertIn('ALTER TABLE "therapists" ADD COLUMN "phone" TEXT', err)
        self.assertNotIn("phone", self.columns("therapists"))

    def test_migrate_targets_adds_columns_to_tables_ferry_created(self):
        self.write_csv("people.csv", ["id", "name"], [["P1", "Ayu"], ["P2", "Budi"]])
        sync = {"source": {"url": "people.csv"}, "target": {"table": "people", "key": "id"},
                "fields": {"id": {}, "name": {}}}
        self.write_config({"people": sync})
        self.sync("people")
        sync["fields"]["phone"] = {}
        sync["target"]["timestamps"] = True
        self.write_config({"people": sync})
        self.write_csv("people.csv", ["id", "name", "phone"],
                       [["P1", "Ayu", "0811"], ["P2", "Budi", "0812"]])
        out, err = self.sync("people", expect=1)
        self.assertIn('ALTER TABLE "people" ADD COLUMN "phone" TEXT (or run ferry migrate '
                      '--targets, as Ferry created the table)', out + err)
        code, out, err = self.run_ferry("migrate", "--targets")
        self.assertEqual(code, 0, out + err)
        ts = "TIMESTAMPTZ" if ON_POSTGRES else "TEXT"
        self.assertIn('sync people: table people: ALTER TABLE "people" ADD COLUMN "phone" TEXT;'
                      'ALTER TABLE "people" ADD COLUMN "created_at" %s;'
                      'ALTER TABLE "people" ADD COLUMN "updated_at" %s;' % (ts, ts), out)
        code, out, err = self.run_ferry("migrate", "--targets")
        self.assertEqual(code, 0, out + err)
        self.assertIn("sync people: table people is up to date", out)
        self.sync("people")
        self.assertEqual(self.counts(), ("succeeded", 0, 2, 0))
        self.assertEqual(self.query("SELECT id, phone FROM people ORDER BY id"),
                         [("P1", "0811"), ("P2", "0812")])


if __name__ == "__main__":
    ferrytest.main()
