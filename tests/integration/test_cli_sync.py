"""The demo through the command line: ferry sync / runs / show / check, --help, --version.

Every test copies examples/ferry.yaml and examples/therapists.csv into a fresh directory and
runs the real binary there.
"""

import json
import os

import ferrytest
from ferrytest import SOURCE_ROOT

FIRST_SUMMARY = ("Processed 14 therapists: 8 created, 0 updated, 0 unchanged, 2 skipped, "
                 "4 failed.")

EXPECTED_ROWS = {
    # employee_id: (name, email, phone, employment, location, started_on, active)
    "T001": ("Ayu Lestari", "ayu.lestari@example.com", "+62 812 5550 1001", "Karyawan",
             "Jakarta Selatan", "2021-03-01", 1),
    "T002": ("Budi Santoso", "budi.santoso@example.com", "+62 812 5550 1002", "Karyawan",
             "Jakarta Pusat", "2020-11-15", 1),
    "T003": ("Citra Dewi", "citra.dewi@example.com", "+62 812 5550 1003", "Karyawan",
             "Bandung", "2022-01-10", 1),
    "T005": ("Eka Putri", "eka.putri@example.com", "+62 812 5550 1005", "Karyawan",
             "Tangerang", "2019-07-22", 0),
    "T007": ("Gita Maharani", "gita.maharani@example.com", "+62 812 5550 1007", "Karyawan",
             "Jakarta Barat", "2022-05-30", 1),
    "T010": ('Joko "JJ" Susilo', "joko.susilo@example.com", "+62 812 5550 1010", "Karyawan",
             "Kebayoran Baru, Jakarta Selatan", "2020-08-17", 1),
    "T011": ("Kartika Ayu", "kartika.ayu@example.com", "+62 812 5550 1011", "Karyawan",
             "Bandung", "2024-01-08", 1),
    "T013": ("Maya Anggraini", "maya.anggraini@example.com", "+62 812 5550 1013", "Karyawan",
             "Jakarta Utara", "2018-12-03", 1),
}

COLUMNS = "employee_id, name, email, phone, employment, location, started_on, active"


class DemoTestCase(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        for name in ("ferry.yaml", "therapists.csv"):
            self.copy_example(name)

    def therapists(self):
        return {r[0]: tuple(r[1:]) for r in
                self.query("SELECT %s FROM therapists ORDER BY employee_id" % COLUMNS)}

    def edit_csv(self, old, new):
        p = self.path("therapists.csv")
        with open(p, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(text.count(old), 1, "the demo CSV should contain %r once" % old)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text.replace(old, new))


class FirstSyncTest(DemoTestCase):
    def test_first_sync_creates_8_skips_2_fails_4_with_exact_summary(self):
        out, err = self.sync("therapists")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^Run 1 succeeded in \d+ (ms|s)\.$")
        self.assertEqual(lines[1], FIRST_SUMMARY)
        self.assertIn("See 'ferry show 1' for why 4 records failed.", out)
        # Progress goes to stderr, results to stdout.
        self.assertNotIn("progress", out)
        self.assertIn("progress run=1", err)

    def test_target_table_holds_exactly_the_valid_rows_in_canonical_form(self):
        self.sync("therapists")
        self.assertEqual(self.therapists(), EXPECTED_ROWS)
        # On PostgreSQL booleans and dates have their native types; on SQLite booleans are
        # stored as integers, dates as text. The enum is in the config's spelling (the CSV
        # has 'karyawan' for T011).
        if ferrytest.ON_POSTGRES:
            types = set(self.query("SELECT pg_typeof(active)::text AS a,"
                                   " pg_typeof(started_on)::text AS s FROM therapists"))
            self.assertEqual(types, {("boolean", "date")})
        else:
            types = dict(self.query("SELECT employee_id, typeof(active) FROM therapists"))
            self.assertEqual(set(types.values()), {"integer"})
        self.assertEqual(self.query("SELECT employment FROM therapists WHERE employee_id='T011'"),
                         [("Karyawan",)])

    def test_change_rows_record_every_outcome_with_reasons(self):
        self.sync("therapists")
        changes = self.changes(1)
        outcomes = [(c["outcome"], c["record_key"]) for c in changes]
        self.assertEqual(outcomes, [
            ("created", "T001"), ("created", "T002"), ("created", "T003"),
            ("skipped", "T004"), ("created", "T005"), ("failed", "T006"),
            ("created", "T007"), ("skipped", "T008"), ("failed", "T009"),
            ("created", "T010"), ("created", "T011"), ("failed", None),
            ("created", "T013"), ("failed", "T002"),
        ])
        reasons = {(c["record_key"], c["row"]): c["reason"] for c in changes
                   if c["outcome"] in ("failed", "skipped")}
        self.assertIn("'fajar@' is not an email address", reasons[("T006", 7)])
        self.assertIn("'2021-02-31' is not a date", reasons[("T009", 10)])
        self.assertIn("employee_id is required but empty", reasons[(None, 13)])
        self.assertIn("duplicate key employee_id 'T002'", reasons[("T002", 15)])
        self.assertIn("'Freelance' not in [Karyawan]", reasons[("T004", 5)])
        run = self.last_run()
        self.assertEqual((run["status"], run["created"], run["updated"], run["unchanged"],
                          run["skipped"], run["failed"], run["deleted"], run["dry_run"]),
                         ("succeeded", 8, 0, 0, 2, 4, 0, 0))
        self.assertEqual(run["ui_message"], FIRST_SUMMARY)
        self.assertEqual((run["trigger"], run["user_name"]), ("cli", "tester"))


class LaterSyncTest(DemoTestCase):
    def test_second_sync_with_one_changed_cell_updates_one_row_with_a_diff(self):
        self.sync("therapists")
        # A new address whose domain is upper case: stored with the domain lower-cased.
        self.edit_csv("citra.dewi@example.com", "Citra.Dewi@Example.COM")
        out, _ = self.sync("therapists")
        self.assertIn("Processed 14 therapists: 0 created, 1 updated, 7 unchanged, 2 skipped, "
                      "4 failed.", out)
        self.assertEqual(self.therapists()["T003"][1], "Citra.Dewi@example.com")
        updated = [c for c in self.changes(2) if c["outcome"] == "updated"]
        self.assertEqual(len(updated), 1)
        self.assertEqual(updated[0]["record_key"], "T003")
        self.assertEqual(json.loads(updated[0]["diff"]),
                         {"email": ["citra.dewi@example.com", "Citra.Dewi@example.com"]})
        # Unchanged records leave no change rows; the others are recorded again.
        self.assertEqual(sorted({c["outcome"] for c in self.changes(2)}),
                         ["failed", "skipped", "updated"])

    def test_sync_of_unchanged_source_changes_nothing(self):
        self.sync("therapists")
        before = self.therapists()
        out, _ = self.sync("therapists")
        self.assertIn("Processed 14 therapists: 0 created, 0 updated, 8 unchanged, 2 skipped, "
                      "4 failed.", out)
        self.assertEqual(self.therapists(), before)

    def test_dry_run_reports_the_update_but_changes_nothing(self):
        self.sync("therapists")
        before = self.therapists()
        self.edit_csv("Gita Maharani", "Gita M. Maharani")
        out, _ = self.sync("therapists", "--dry-run")
        self.assertIn("Dry run, nothing was changed. Processed 14 therapists: 0 created, "
                      "1 updated, 7 unchanged, 2 skipped, 4 failed.", out)
        self.assertIn("Updated: T007 (name: 'Gita Maharani' -> 'Gita M. Maharani')", out)
        self.assertEqual(self.therapists(), before)
        run = self.last_run()
        self.assertEqual((run["id"], run["status"], run["dry_run"], run["updated"]),
                         (2, "succeeded", 1, 1))
        self.assertEqual(self.changes(2), [])
        self.assertEqual(self.query("SELECT count(*) FROM ferry_changes WHERE run_id <> 1"),
                         [(0,)])
        code, out, _ = self.run_ferry("show", "2")
        self.assertEqual(code, 0)
        self.assertIn("Run 2 of therapists (dry run)", out)
        # The real run then applies what the dry run announced.
        out, _ = self.sync("therapists")
        self.assertIn("1 updated", out)
        self.assertEqual(self.therapists()["T007"][0], "Gita M. Maharani")

    def test_dry_run_of_the_first_sync_creates_nothing_and_lists_failures(self):
        out, _ = self.sync("therapists", "--dry-run")
        self.assertIn("Dry run, nothing was changed. " + FIRST_SUMMARY, out)
        # The failures are listed here: a dry run keeps no change rows for 'ferry show'.
        self.assertIn("Failed: row 7: email 'fajar@' is not an email address; ", out)
        self.assertIn("Created: T001; T002; T003; T005; T007; T010; T011; T013.", out)
        self.assertNotIn("ferry show", out)
        self.assertFalse(self.table_exists("therapists"))
        self.assertEqual(self.query("SELECT count(*) FROM ferry_changes"), [(0,)])
        run = self.last_run()
        self.assertEqual((run["status"], run["dry_run"], run["created"], run["failed"]),
                         ("succeeded", 1, 8, 4))

    @ferrytest.sqlite_only("where the database file lands")
    def test_config_and_database_resolve_against_the_config_directory(self):
        elsewhere = self.path("elsewhere")
        os.mkdir(elsewhere)
        code, out, err = self.run_ferry("sync", "therapists", "--config",
                                        self.config_path, cwd=elsewhere)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.exists(self.db_path))
        self.assertFalse(os.path.exists(os.path.join(elsewhere, "ferry.db")))
        # $FERRY_CONFIG is used when --config is not given.
        env_dir = self.path("env")
        os.mkdir(env_dir)
        code, out, err = self.run_ferry("runs", cwd=env_dir,
                                        env={"FERRY_CONFIG": self.config_path})
        self.assertEqual(code, 0, err)
        self.assertIn("succeeded", out)


class RunsAndShowTest(DemoTestCase):
    def test_runs_lists_newest_first_with_limit_and_sync_filter(self):
        self.sync("therapists")
        self.sync("therapists", "--dry-run")
        self.sync("therapists")
        code, out, err = self.run_ferry("runs")
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("ID"), out)
        self.assertIn("STATUS", lines[0])
        ids = [int(l.split()[0]) for l in lines[1:]]
        self.assertEqual(ids, [3, 2, 1])
        self.assertIn("Dry run, nothing was changed.", lines[2])
        self.assertIn(FIRST_SUMMARY, lines[3])
        for line in lines[1:]:
            self.assertRegex(line, r"^\d+\s+succeeded\s+therapists\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s")
        code, out, _ = self.run_ferry("runs", "--limit", "1")
        self.assertEqual(code, 0)
        self.assertEqual([int(l.split()[0]) for l in out.splitlines()[1:]], [3])
        code, out, _ = self.run_ferry("runs", "--sync", "nosuch")
        self.assertEqual(code, 0)
        self.assertIn("(no runs yet)", out)

    def test_runs_before_any_sync(self):
        code, out, _ = self.run_ferry("runs")
        self.assertEqual(code, 0)
        self.assertIn("(no runs yet)", out)

    def test_show_prints_counts_message_and_failures_with_reasons(self):
        self.sync("therapists")
        code, out, err = self.run_ferry("show", "1")
        self.assertEqual(code, 0, err)
        self.assertIn("Run 1 of therapists", out)
        self.assertRegex(out, r"status:\s+succeeded")
        self.assertIn("counts:    8 created, 0 updated, 0 unchanged, 2 skipped, 4 failed, "
                      "0 deleted", out)
        self.assertIn("message:   " + FIRST_SUMMARY, out)
        self.assertRegex(out, r"failed\s+T006\s+row 7: email 'fajar@' is not an email address")
        self.assertRegex(out, r"failed\s+T009\s+row 10: started_on '2021-02-31' is not a date")
        self.assertRegex(out, r"failed\s+-\s+row 13: employee_id is required but empty")
        self.assertRegex(out, r"failed\s+T002\s+row 15: duplicate key employee_id 'T002'")
        self.assertRegex(out, r"skipped\s+T004\s+row 5: employment 'Freelance' not in")

    def test_show_of_unknown_or_malformed_run_id_is_a_usage_error(self):
        self.sync("therapists")
        code, _, err = self.run_ferry("show", "99")
        self.assertEqual(code, 2)
        self.assertIn("there is no run 99", err)
        code, _, err = self.run_ferry("show", "abc")
        self.assertEqual(code, 2)
        self.assertIn("'abc' is not a run id", err)
        code, _, _ = self.run_ferry("show")
        self.assertEqual(code, 2)


class UsageTest(DemoTestCase):
    def test_unknown_sync_name_exits_2_and_lists_the_syncs(self):
        code, out, err = self.run_ferry("sync", "therapist")
        self.assertEqual(code, 2)
        self.assertIn("no sync named 'therapist'", err)
        self.assertIn("(the config has: therapists, locations, patients)", err)
        self.assertFalse(self.table_exists("therapists"))

    def test_migrate_creates_ferry_s_tables_once_and_takes_no_arguments(self):
        self.assertFalse(self.table_exists("ferry_runs"))
        for _ in range(2):  # the second time there is nothing to do
            code, out, err = self.run_ferry("migrate")
            self.assertEqual((code, out, err), (0, "Ferry's tables are up to date.\n", ""))
        for table in ("ferry_runs", "ferry_changes", "ferry_users", "ferry_nodes"):
            self.assertTrue(self.table_exists(table), table)
        self.assertFalse(self.table_exists("therapists"))
        self.assertEqual(self.run_ferry("migrate", "extra")[0], 2)

    def test_sync_needs_exactly_one_name(self):
        self.assertEqual(self.run_ferry("sync")[0], 2)
        self.assertEqual(self.run_ferry("sync", "a", "b")[0], 2)

    def test_check_accepts_the_demo_config(self):
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 0, err)
        self.assertEqual(out.strip(), "ferry.yaml: OK, 3 syncs (therapists, locations, patients)")
        # check does not touch the database.
        self.assertFalse(os.path.exists(self.db_path))

    def test_check_reports_bad_config_as_file_line_key_message(self):
        with open(self.config_path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        idx = next(i for i, l in enumerate(lines) if "type: email" in l)
        lines[idx] = lines[idx].replace("type: email", "type: mail")
        with open(self.config_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 2)
        self.assertEqual(err.strip(), "ferry: ferry.yaml:%d: syncs.therapists.fields.email.type: "
                         "unknown type 'mail'" % (idx + 1))
        # sync refuses the same config the same way, before touching anything.
        code, _, err2 = self.run_ferry("sync", "therapists")
        self.assertEqual(code, 2)
        self.assertEqual(err2, err)
        self.assertFalse(os.path.exists(self.db_path))

    def test_check_reports_unknown_key_and_missing_file(self):
        self.write_file("bad.yaml", "syncs:\n  t:\n    source: { url: a.csv }\n"
                        "    target: { tabel: t, key: id }\n    fields: { id: {} }\n")
        code, _, err = self.run_ferry("check", "--config", "bad.yaml")
        self.assertEqual(code, 2)
        self.assertRegex(err.strip(), r"^ferry: bad\.yaml:4: syncs\.t\.target\.tabel: unknown key")
        code, _, err = self.run_ferry("check", "-c", "nosuch.yaml")
        self.assertEqual(code, 2)
        self.assertIn("nosuch.yaml", err)
        self.assertIn("No such file or directory", err)

    def test_help_and_version(self):
        for args in (["--help"], ["-h"], ["help"], ["sync", "--help"]):
            code, out, err = self.run_ferry(*args)
            self.assertEqual(code, 0, args)
            self.assertTrue(out.startswith("Usage: ferry COMMAND"), out)
            self.assertIn("Exit status: 0 success, 1 the run failed, 2 usage or config error, "
                          "3 the run is held for\nreview, 130 cancelled.", out)
            self.assertEqual(err, "")
        for args in (["--version"], ["-V"]):
            code, out, _ = self.run_ferry(*args)
            self.assertEqual(code, 0)
            self.assertRegex(out, r"^ferry \d+\.\d+\.\d+\S*\n$")

    def test_unknown_command_option_or_no_command_exits_2(self):
        code, out, err = self.run_ferry("frobnicate")
        self.assertEqual(code, 2)
        self.assertIn("unknown command 'frobnicate'", err)
        self.assertEqual(out, "")
        code, _, err = self.run_ferry()
        self.assertEqual(code, 2)
        self.assertIn("Usage: ferry", err)
        code, _, err = self.run_ferry("sync", "therapists", "--bogus")
        self.assertEqual(code, 2)
        self.assertIn("Try 'ferry --help'.", err)
        code, _, err = self.run_ferry("runs", "--limit", "0")
        self.assertEqual(code, 2)
        self.assertIn("--limit takes a number", err)
        self.assertFalse(os.path.exists(self.db_path))


if __name__ == "__main__":
    ferrytest.main()
