"""Syncing into an application's own tables: the tables Rails, Django and Laravel create.

Each framework's DDL (fixtures/apptables/, on SQLite here and on PostgreSQL in the pgsuite
rerun) is loaded into the test's database, then a CSV of therapists is synced into it with
target.timestamps on: the id comes from the database and records match on the unique email.

The cases are a table: every scenario runs on every fixture of the backend (the test_<framework>_
<scenario> methods made below the class).
- lifecycle: a first run creates; two identical re-runs find everything unchanged and leave
  every row, created_at and updated_at included, as it was; then one run per column changes
  that column of one row: exactly that diff, that row's updated_at moved, its created_at and
  every other row's timestamps kept.
- flag_soft_delete / flag_boolean: on_missing: flag into the framework's soft-delete column
  (target.flag: {column: discarded_at / deleted_at}) and into its active boolean ({column:
  active, value: false}): the missing row is flagged and its updated_at bumped, a re-run
  changes nothing, the returning record clears the flag (NULL / true) as an update.
- delete_under_guard: on_missing: delete with guard.max_missing: 0 holds the run for review
  and changes nothing; once it is rejected, with --allow-missing the row goes and the others
  are untouched.
A table Ferry creates (no fixture) gets the named flag column and the same behaviour.

Where docs/app-tables.md has a worked example for a fixture and backend, the lifecycle case
syncs with the ferry.yaml shown there, verbatim but for its database line (the
DOC_EXAMPLES table; test_docs_worked_examples_are_the_tested_ones keeps the two in step).

Timestamps are checked without waiting: before each run the rows' created_at and updated_at
are set to a moment in 2020, so a moved one is newer and a kept one is that moment.

Every refusal (no unique index on the key, NOT NULL columns nothing fills, a missing
timestamp column, a field without a column) names the table, the column and the fix, exits
non-zero and changes nothing; ferry check says the same. ferry migrate --targets adds missing
columns to the tables Ferry created and to no others.
"""

import datetime
import json
import os
import re

import ferrytest
from ferrytest import ON_POSTGRES

FIXTURES = os.path.join(ferrytest.HERE, "fixtures", "apptables")
GUIDE = os.path.join(ferrytest.SOURCE_ROOT, "docs", "app-tables.md")
BACKEND_NAME = "postgres" if ON_POSTGRES else "sqlite"

FRAMEWORKS = ("rails", "django", "laravel")
# Each framework's soft-delete column in its fixture (fixtures/apptables/README.md).
SOFT_DELETE = {"rails": "discarded_at", "django": "deleted_at", "laravel": "deleted_at"}
# The worked examples of docs/app-tables.md, by (framework, backend): their ferry.yaml is
# the one the lifecycle case of that fixture uses.
DOC_EXAMPLES = {
    ("rails", "sqlite"): "Rails on SQLite",
    ("rails", "postgres"): "Rails on PostgreSQL",
    ("django", "postgres"): "Django on PostgreSQL",
    ("laravel", "sqlite"): "Laravel on SQLite",
}

HEADER = ["email", "name", "location_id", "active", "hourly_rate", "started_on",
          "external_id", "profile"]
ROWS = [
    ["ayu@clinic.example", "Ayu", "1", "true", "120.5", "2024-03-01",
     "6f1c2b1e-1d5e-4c1a-9f3e-0a1b2c3d4e5f", '{"langs": ["id", "en"]}'],
    ["budi@clinic.example", "Budi", "2", "false", "95.25", "2023-11-15",
     "0b7f7f2a-6a47-4a52-8c1e-2f3a4b5c6d7e", '{"langs": ["id"]}'],
    ["citra@clinic.example", "Citra", "1", "true", "150", "2022-01-10",
     "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", '{"langs": ["en"]}'],
]
# The lifecycle's changes to Budi, one run each: (column, new value).
CHANGES = [
    ("name", "Budi Santoso"),
    ("location_id", "1"),
    ("active", "true"),
    ("hourly_rate", "99.5"),
    ("started_on", "2023-12-01"),
    ("external_id", "1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5"),
    ("profile", '{"langs": ["id", "en"], "since": 2023}'),
]
UTC_MICROS = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")
UTC_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
BEFORE = "2020-01-01 00:00:00"  # where the rows' timestamps are set before each run


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
    return {k: v for k, v in f.items() if k not in without}


def has_json_column(framework):
    """Whether the fixture's profile column is a JSON type (compared and shown as JSON)
    rather than text: Django and Laravel keep JSON in text on SQLite."""
    return ON_POSTGRES or framework == "rails"


def rows_for(framework):
    """ROWS as the framework's app would hold them: Django keeps a UUIDField in char(32) on
    SQLite, 32 hex digits without hyphens (a 36-character uuid would fail its record)."""
    rows = [list(r) for r in ROWS]
    if framework == "django" and not ON_POSTGRES:
        for r in rows:
            r[HEADER.index("external_id")] = r[HEADER.index("external_id")].replace("-", "")
    return rows


def doc_config(title):
    """The ferry.yaml of the guide's worked example title: the first yaml block of its
    section, with its database line made the test's (write_file() maps sqlite:ferry.db to
    the test's PostgreSQL database)."""
    with open(GUIDE) as f:
        text = f.read()
    m = re.search(r"^## A worked example: %s\n(.*?)(?=^## )" % re.escape(title), text,
                  re.M | re.S)
    if m is None:
        raise AssertionError("docs/app-tables.md has no section 'A worked example: %s'" % title)
    block = re.search(r"^```yaml\n(.*?)^```", m.group(1), re.M | re.S)
    if block is None:
        raise AssertionError("the worked example %s has no yaml block" % title)
    config, n = re.subn(r"^database: .*$", "database: sqlite:ferry.db", block.group(1),
                        flags=re.M)
    if n != 1:
        raise AssertionError("the worked example %s's config has %d database lines" % (title, n))
    return config


class AppTablesTest(ferrytest.FerryTestCase):
    def load_ddl(self, framework):
        with open(os.path.join(FIXTURES, "%s_%s.sql" % (framework, BACKEND_NAME))) as f:
            ddl = f.read()
        self.exec_script(ddl)
        self.exec_script("INSERT INTO locations (name, created_at, updated_at) VALUES"
                         " ('Jakarta', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),"
                         " ('Bandung', '2024-01-01 00:00:00', '2024-01-01 00:00:00');")

    def write_rows(self, rows, without=()):
        cols = [c for c in HEADER if c in fields(without)]
        self.write_csv("therapists.csv", cols, [[r[HEADER.index(c)] for c in cols] for r in rows])

    def write_sync(self, rows, target=None, without=(), guard=None):
        self.write_rows(rows, without)
        t = {"table": "therapists", "key": "email", "timestamps": True}
        t.update(target or {})
        sync = {"source": {"url": "therapists.csv"}, "target": t, "fields": fields(without)}
        if guard is not None:
            sync["guard"] = guard
        self.write_config({"therapists": sync})

    def stamps(self):
        return {r[0]: (str(r[1]), str(r[2])) for r in self.query(
            "SELECT email, created_at, updated_at FROM therapists ORDER BY email")}

    def set_stamps_back(self):
        """Sets every row's created_at and updated_at to BEFORE; returns stamps()."""
        self.db_exec("UPDATE therapists SET created_at = ?, updated_at = ?", (BEFORE, BEFORE))
        return self.stamps()

    def assert_stamps_moved_only(self, before, moved):
        """Only moved's updated_at differs from before (and is newer); every created_at and
        every other updated_at is as it was."""
        after = self.stamps()
        self.assertEqual(sorted(after), sorted(before))
        for email, (created, updated) in after.items():
            self.assertEqual(created, before[email][0], email)
            if email in moved:
                self.assertGreater(updated, before[email][1], email)
            else:
                self.assertEqual(updated, before[email][1], email)

    def therapists(self, but=None):
        """Every row of therapists (all columns), by email; but: without that email's row."""
        return self.query("SELECT * FROM therapists WHERE email IS DISTINCT FROM ?"
                          " ORDER BY email", (but,)) if ON_POSTGRES else self.query(
            "SELECT * FROM therapists WHERE email IS NOT ? ORDER BY email", (but,))

    def counts(self):
        run = self.last_run()
        return run["status"], run["created"], run["updated"], run["unchanged"]

    def diffs(self):
        return [(c["outcome"], c["record_key"], json.loads(c["diff"]) if c["diff"] else None)
                for c in self.changes(self.last_run()["id"])]

    # -- the table of cases: each scenario on each framework's fixture --

    def check_lifecycle(self, framework):
        self.load_ddl(framework)
        rows = rows_for(framework)
        self.write_rows(rows)
        title = DOC_EXAMPLES.get((framework, BACKEND_NAME))
        if title is not None:
            self.write_config(doc_config(title))
        else:
            self.write_sync(rows)
        out, _ = self.sync("therapists")
        self.assertIn("Processed 3 therapists: 3 created, 0 updated, 0 unchanged, 0 skipped, "
                      "0 failed.", out)
        # The database gave the ids; the key matched nothing, so each row is new.
        self.assertEqual(self.query("SELECT id, email FROM therapists ORDER BY id"),
                         [(1, "ayu@clinic.example"), (2, "budi@clinic.example"),
                          (3, "citra@clinic.example")])
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        for created, updated in self.stamps().values():
            self.assertEqual(created, updated)
            if not ON_POSTGRES:
                self.assertRegex(created, UTC_MICROS)
            stamp = datetime.datetime.strptime(created[:19].replace("T", " "),
                                               "%Y-%m-%d %H:%M:%S")
            self.assertLess(abs((stamp - now).total_seconds()), 120, created)

        before = self.set_stamps_back()
        table = self.therapists()
        for _ in range(2):
            out, _ = self.sync("therapists")
            self.assertIn("Processed 3 therapists: 0 created, 0 updated, 3 unchanged, "
                          "0 skipped, 0 failed.", out)
            self.assertEqual(self.diffs(), [])
            self.assertEqual(self.therapists(), table)

        for column, new in CHANGES:
            i = HEADER.index(column)
            if column == "external_id" and framework == "django" and not ON_POSTGRES:
                new = new.replace("-", "")
            old, rows[1][i] = rows[1][i], new
            if column == "profile" and has_json_column(framework):  # compact, sorted keys
                old, new = (json.dumps(json.loads(v), separators=(",", ":"), sort_keys=True)
                            for v in (old, new))
            self.write_rows(rows)
            before = self.set_stamps_back()
            others = self.therapists(but="budi@clinic.example")
            self.sync("therapists")
            self.assertEqual(self.counts(), ("succeeded", 0, 1, 2), column)
            self.assertEqual(self.diffs(), [("updated", "budi@clinic.example", {column: [old, new]})])
            self.assert_stamps_moved_only(before, {"budi@clinic.example"})
            self.assertEqual(self.therapists(but="budi@clinic.example"), others, column)
        # Every column now holds its change: a re-run finds all three unchanged.
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 0, 0, 3))

    def check_flag(self, framework, flag):
        """Removes Citra, then brings her back, with target.flag naming the app's column
        (framework None: a table Ferry creates)."""
        boolean = "value" in flag
        column = flag["column"]
        without = ("active",) if boolean else ()
        target = {"on_missing": "flag", "flag": flag}
        rows = rows_for(framework)
        if framework is not None:
            self.load_ddl(framework)
        if boolean:  # a row not flagged holds true, new rows included
            flagged_sql = "SELECT email FROM therapists WHERE %s = %s" % (column, "false")
            cleared_sql = "SELECT count(*) FROM therapists WHERE %s = %s" % (column, "true")
        else:
            flagged_sql = "SELECT email FROM therapists WHERE %s IS NOT NULL" % column
            cleared_sql = "SELECT count(*) FROM therapists WHERE %s IS NULL" % column
        if boolean and not ON_POSTGRES:  # SQLite's booleans are 0 and 1
            flagged_sql = flagged_sql.replace("false", "0")
            cleared_sql = cleared_sql.replace("true", "1")
        self.write_sync(rows, target, without)
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0))
        self.assertIn(column, self.columns("therapists"))
        self.assertNotIn("ferry_missing_since", self.columns("therapists"))
        self.assertEqual(self.query(flagged_sql), [])
        self.assertEqual(self.query(cleared_sql), [(3,)])

        self.write_sync(rows[:2], target, without)
        before = self.set_stamps_back()
        out, _ = self.sync("therapists")
        self.assertIn("Processed 2 therapists: 0 created, 0 updated, 2 unchanged, 0 skipped, "
                      "0 failed, 1 flagged as missing.", out)
        self.assertNotIn("ferry_missing_since", self.columns("therapists"))
        self.assertEqual(self.query(flagged_sql), [("citra@clinic.example",)])
        self.assert_stamps_moved_only(before, {"citra@clinic.example"})
        self.assertEqual(self.last_run()["deleted"], 1)
        self.assertEqual([(c["outcome"], c["record_key"], c["reason"])
                          for c in self.changes(self.last_run()["id"])],
                         [("deleted", "citra@clinic.example",
                           "no longer in the source: flagged as missing")])
        if not boolean:  # the run's time, as updated_at is written
            self.assertEqual(self.query("SELECT email FROM therapists WHERE %s = updated_at"
                                        % column), [("citra@clinic.example",)])

        # Still missing: nothing changes.
        flagged_table = self.therapists()
        out, _ = self.sync("therapists")
        self.assertIn("0 flagged as missing.", out)
        self.assertEqual(self.therapists(), flagged_table)

        # Citra comes back: the flag is cleared, an update with the flag column in its diff.
        self.write_sync(rows, target, without)
        before = self.set_stamps_back()
        out, _ = self.sync("therapists")
        self.assertIn("Processed 3 therapists: 0 created, 1 updated, 2 unchanged, 0 skipped, "
                      "0 failed, 0 flagged as missing.", out)
        self.assertEqual(self.query(flagged_sql), [])
        self.assertEqual(self.query(cleared_sql), [(3,)])
        (outcome, key, diff), = self.diffs()
        self.assertEqual((outcome, key), ("updated", "citra@clinic.example"))
        if boolean:
            self.assertEqual(diff, {column: ["false", "true"]})
            self.assertEqual(self.query("SELECT %s FROM therapists WHERE email = ?" % column,
                                        ("citra@clinic.example",)),
                             [(True if ON_POSTGRES else 1,)])
        else:
            self.assertEqual(list(diff), [column])
            self.assertRegex(diff[column][0], UTC_INSTANT)
            self.assertIsNone(diff[column][1])
        self.assert_stamps_moved_only(before, {"citra@clinic.example"})

        # Back and unchanged: nothing moves.
        table = self.therapists()
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 0, 0, 3))
        self.assertEqual(self.therapists(), table)

    def check_flag_soft_delete(self, framework):
        self.check_flag(framework, {"column": SOFT_DELETE[framework]})

    def check_flag_boolean(self, framework):
        self.check_flag(framework, {"column": "active", "value": False})

    def check_delete_under_guard(self, framework):
        self.load_ddl(framework)
        rows = rows_for(framework)
        target = {"on_missing": "delete"}
        self.write_sync(rows, target, guard={"max_missing": 0})
        self.sync("therapists")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0))

        self.write_sync(rows[:2], target, guard={"max_missing": 0})
        before = self.set_stamps_back()
        table = self.therapists()
        remaining = self.therapists(but="citra@clinic.example")
        out, err = self.sync("therapists", expect=3)
        self.assertIn("Held for review: would delete 1 of 3 therapists (33%), more than 0.",
                      out + err)
        held = self.last_run()
        self.assertEqual(held["status"], "held")
        self.assertEqual(self.therapists(), table)
        code, out, err = self.run_ferry("reject", str(held["id"]))
        self.assertEqual(code, 0, err)

        out, _ = self.sync("therapists", "--allow-missing")
        self.assertIn("Processed 2 therapists: 0 created, 0 updated, 2 unchanged, 0 skipped, "
                      "0 failed, 1 deleted.", out)
        self.assertEqual([(c["outcome"], c["record_key"], c["reason"])
                          for c in self.changes(self.last_run()["id"])],
                         [("deleted", "citra@clinic.example", "no longer in the source: deleted")])
        self.assertEqual(self.therapists(), remaining)
        del before["citra@clinic.example"]
        self.assert_stamps_moved_only(before, set())

    def test_created_table_flags_into_its_named_timestamp_column(self):
        self.check_flag(None, {"column": "removed_at"})

    def test_created_table_flags_into_its_named_boolean_column(self):
        self.check_flag(None, {"column": "listed", "value": False})

    def test_docs_worked_examples_are_the_tested_ones(self):
        with open(GUIDE) as f:
            titles = re.findall(r"^## A worked example: (.*)$", f.read(), re.M)
        self.assertEqual(sorted(titles), sorted(DOC_EXAMPLES.values()))
        for title in DOC_EXAMPLES.values():
            self.assertIn("database: sqlite:ferry.db", doc_config(title))

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



def add_framework_cases():
    """Adds test_<framework>_<scenario> to AppTablesTest for each fixture and scenario."""
    for framework in FRAMEWORKS:
        for scenario in ("lifecycle", "flag_soft_delete", "flag_boolean", "delete_under_guard"):
            check = getattr(AppTablesTest, "check_" + scenario)
            setattr(AppTablesTest, "test_%s_%s" % (framework, scenario),
                    lambda self, check=check, framework=framework: check(self, framework))


add_framework_cases()


if __name__ == "__main__":
    ferrytest.main()
