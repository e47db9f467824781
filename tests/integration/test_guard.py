"""The guard: a run that would delete or flag too many rows, or fail too many records, fails
before it writes anything.

An export cut exactly at a line end looks like a whole, shorter file; only its effect gives it
away. By default a run that would delete or flag more than 10% of the rows in its scope (and
more than 10 rows) fails, with a message that gives the count and the two ways to allow it:
guard: {max_missing: 100%} in the config, or `ferry sync NAME --allow-missing` (or
{"allow_missing": true} on POST /api/syncs/NAME/runs) for one run. guard.max_failed does the
same for failed records (no limit by default).
"""

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
ROWS = people_rows(2000)
FULL = csv_text(HEADER, ROWS).encode()


class GuardTestCase(ferrytest.FerryTestCase):
    def load(self, on_missing="delete", guard=None, url=None):
        """A sync of 2,000 people over HTTP, loaded once."""
        self.route = url or self.server.route("/people.csv", body=FULL)
        sync = sync_config(self.route, on_missing=on_missing)
        if guard is not None:
            sync["guard"] = guard
        self.write_config({"t": sync})
        out, _ = self.sync("t")
        self.assertIn("2000 created", out)
        self.before = self.table_rows("people")

    def serve_body(self, body):
        self.server.route("/people.csv", body=body)

    def assert_guarded(self, out, verb, count, share):
        msg = ("the run would %s %d of the 2000 rows of people (%s), more than "
               "guard.max_missing allows (10%%), so it was stopped before writing anything; if "
               "the source is right, allow it with guard: {max_missing: 100%%} on the sync, or "
               "for one run with ferry sync t --allow-missing" % (verb, count, share))
        self.assertIn(msg, out)
        self.assertIn("Nothing was changed.", out)
        self.assertEqual(self.table_rows("people"), self.before)
        run = self.last_run()
        self.assertEqual((run["status"], run["error_code"]), ("failed", "limit"))
        self.assertIn(msg, run["error"])
        self.assertEqual((run["created"], run["updated"], run["deleted"]), (0, 0, 0))
        self.assertEqual(self.changes(run["id"]), [])


class MaxMissingTest(GuardTestCase):
    def test_export_cut_at_a_line_end_trips_the_default_guard(self):
        self.load()
        # 1,239 whole records: a shorter file as far as CSV can tell. One of them changed
        # and one new record too: the guarded run must not write those either.
        rows = [list(r) for r in ROWS[:1239]]
        rows[5][1] = "Changed"
        rows.append(["P9999999", "New", "new@example.com"])
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t", expect=1)
        self.assert_guarded(out, "delete", 761, "38.1%")

    def test_export_cut_inside_the_last_column_trips_the_guard(self):
        # Cut inside the last field, the record has all its fields (its email fails): the
        # reader cannot tell, the guard does.
        self.load()
        body = csv_text(HEADER, ROWS[:1240]).encode()[:-len("example.com\n")]
        self.serve_body(body)
        out, _ = self.sync("t", expect=1)
        self.assert_guarded(out, "delete", 760, "38.0%")

    def test_flag_mode_is_guarded_too(self):
        self.load(on_missing="flag")
        self.serve_body(csv_text(HEADER, ROWS[:1000]).encode())
        out, _ = self.sync("t", expect=1)
        self.assert_guarded(out, "flag as missing", 1000, "50.0%")

    def test_flag_mode_scope_is_the_rows_not_flagged_before_the_run(self):
        # 1,900 rows flagged by an allowed run, 100 current. The wrong tab (the 1,900 old
        # rows) comes back: all 100 current rows would be flagged. Rows the run itself brings
        # back from flagged were not in its scope, so they cannot dilute the share.
        self.load(on_missing="flag")
        self.serve_body(csv_text(HEADER, ROWS[1900:]).encode())
        out, _ = self.sync("t", "--allow-missing")
        self.assertIn("1900 flagged as missing", out)
        before = self.table_rows("people")
        self.serve_body(csv_text(HEADER, ROWS[:1900]).encode())
        out, _ = self.sync("t", expect=1)
        self.assertIn("the run would flag as missing 100 of the 100 rows of people (100.0%), "
                      "more than guard.max_missing allows (10%)", out)
        self.assertEqual(self.table_rows("people"), before)
        # One row back, 99 of the 100 rows go: still the share of the 100.
        self.serve_body(csv_text(HEADER, ROWS[:1901]).encode())
        out, _ = self.sync("t", expect=1)
        self.assertIn("the run would flag as missing 99 of the 100 rows of people (99.0%)", out)

    def test_up_to_the_limit_goes_through(self):
        self.load()
        self.serve_body(csv_text(HEADER, ROWS[200:]).encode())
        out, _ = self.sync("t")
        self.assertIn("200 deleted", out)

    def test_allow_missing_lets_one_run_through_and_is_recorded(self):
        self.load()
        self.serve_body(csv_text(HEADER, ROWS[:1239]).encode())
        self.sync("t", expect=1)
        out, _ = self.sync("t", "--allow-missing")
        self.assertIn("1239 unchanged, 0 skipped, 0 failed, 761 deleted.", out)
        self.assertEqual(len(self.table_rows("people")), 1239)
        run = self.last_run()
        self.assertEqual((run["status"], run["deleted"]), ("succeeded", 761))
        self.assertTrue(run["allow_missing"])
        # The next run is guarded again.
        self.serve_body(csv_text(HEADER, ROWS[:500]).encode())
        out, _ = self.sync("t", expect=1)
        self.assertIn("would delete 739 of the 1239 rows", out)

    def test_config_allows_any_share(self):
        self.load(guard={"max_missing": "100%"})
        self.serve_body(csv_text(HEADER, ROWS[:1239]).encode())
        out, _ = self.sync("t")
        self.assertIn("761 deleted", out)

    def test_config_count_limit(self):
        self.load(guard={"max_missing": 5})
        self.serve_body(csv_text(HEADER, ROWS[:1994]).encode())
        out, _ = self.sync("t", expect=1)
        self.assertIn("would delete 6 of the 2000 rows of people (0.3%), more than "
                      "guard.max_missing allows (5)", out)
        self.serve_body(csv_text(HEADER, ROWS[:1995]).encode())
        out, _ = self.sync("t")
        self.assertIn("5 deleted", out)

    def test_api_run_with_allow_missing(self):
        self.load()
        self.serve_body(csv_text(HEADER, ROWS[:1239]).encode())
        with self.serve() as srv:
            run = srv.run_to_end("t", status="failed")
            self.assertIn("would delete 761 of the 2000 rows", run["error"])
            self.assertFalse(run["allow_missing"])
            r = srv.post("/api/syncs/t/runs", body={"allow_missing": "yes"})
            self.assertEqual(r.status, 400)
            self.assertIn("allow_missing must be true or false", r.json["error"]["message"])
            r = srv.post("/api/syncs/t/runs", body={"allow_missing": True})
            self.assertEqual(r.status, 202, r)
            self.assertTrue(r.json["allow_missing"])
            run = srv.wait_run(r.json["id"])
            self.assertEqual((run["status"], run["counts"]["deleted"]), ("succeeded", 761), run)
            self.assertTrue(run["allow_missing"])
        self.assertEqual(len(self.table_rows("people")), 1239)


class MaxFailedTest(GuardTestCase):
    def test_too_many_failed_records_fail_the_run(self):
        self.load(on_missing="keep", guard={"max_failed": "1%"})
        rows = [list(r) for r in ROWS]
        for r in rows[100:121]:
            r[2] = "not-an-email"
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t", expect=1)
        msg = ("21 of the 2000 records failed (1.1%), more than guard.max_failed allows (1%), "
               "so the run was stopped before writing anything (the first: row 102: email "
               "'not-an-email' is not an email address); fix the source, or raise "
               "guard.max_failed on the sync")
        self.assertIn(msg, out)
        self.assertEqual(self.table_rows("people"), self.before)
        run = self.last_run()
        self.assertEqual((run["status"], run["error_code"]), ("failed", "limit"))
        self.assertEqual(run["error"], msg)
        # Twenty are within 1% of 2,000: that run goes through with its failures.
        rows[120][2] = ROWS[120][2]
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t")
        self.assertIn("20 failed", out)

    def test_no_limit_by_default(self):
        self.load(on_missing="keep")
        rows = [[r[0], r[1], "bad"] for r in ROWS]
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t")
        self.assertIn("2000 failed", out)


if __name__ == "__main__":
    ferrytest.main()
