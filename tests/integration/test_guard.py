"""The guard and held runs (docs/review.md): a run that would delete or flag too many rows,
update too many, fail too many records, or change a protected field is held: nothing it did is
committed, its change set is kept for review, and it waits for a person to approve or reject
it. A held run blocks the next run of its sync until decided.

An export cut exactly at a line end looks like a whole, shorter file; only its effect gives it
away. By default a run that would delete or flag more than 10% of the rows in its scope (and
more than 10 rows) is held, its reason giving the count, the share and the limit ("would delete
761 of 2,000 people (38%), more than 10%"); `ferry sync` exits 3 for it. --allow-missing (or
{"allow_missing": true} on POST /api/syncs/NAME/runs) lets one run past max_missing.
guard.max_failed does the same for failed records (no limit by default), guard.max_updated for
updated rows, guard.protect for named fields (an admin approves those).

Approving applies what was reviewed: the snapshot of what the run read, kept in the data folder,
not what the source holds by then; when the target changed since the review so that the
changes differ, the run is held again instead. Rejecting, or the hold_for expiry, drops it.
"""

import os
import random
import time

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
ROWS = people_rows(2000)
FULL = csv_text(HEADER, ROWS).encode()


class GuardTestCase(ferrytest.FerryTestCase):
    def load(self, on_missing="delete", guard=None, url=None, rows=None):
        """A sync of 2,000 people (or rows) over HTTP, loaded once."""
        body = FULL if rows is None else csv_text(HEADER, rows).encode()
        self.route = url or self.server.route("/people.csv", body=body)
        sync = sync_config(self.route, on_missing=on_missing)
        if guard is not None:
            sync["guard"] = guard
        self.write_config({"t": sync})
        out, _ = self.sync("t")
        self.assertIn("%d created" % (len(rows) if rows is not None else 2000), out)
        self.before = self.table_rows("people")

    def serve_body(self, body):
        self.server.route("/people.csv", body=body)

    def assert_held(self, out, reason, deleted=None):
        """The last run is held with reason, the table is as before, and its change set is
        kept; returns the run."""
        self.assertIn("Held for review: %s." % reason, out)
        self.assertIn("ferry approve", out)
        self.assertEqual(self.table_rows("people"), self.before)
        run = self.last_run()
        self.assertEqual((run["status"], run["held_reason"]), ("held", reason))
        self.assertIsNone(run["error"])
        changes = self.changes(run["id"])
        self.assertTrue(changes, "a held run keeps its change set")
        if deleted is not None:
            self.assertEqual(sum(1 for c in changes if c["outcome"] == "deleted"), deleted)
            self.assertEqual(run["deleted"], deleted)
        return run

    def ferry_ok(self, *args):
        code, out, err = self.run_ferry(*args)
        self.assertEqual(code, 0, "ferry %s exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (" ".join(args), code, out, err))
        return out

    def reject(self, run):
        self.ferry_ok("reject", str(run["id"]))


class MaxMissingTest(GuardTestCase):
    def test_export_cut_at_a_line_end_trips_the_default_guard(self):
        self.load()
        # 1,239 whole records: a shorter file as far as CSV can tell. One of them changed
        # and one new record too: the guarded run must not write those either.
        rows = [list(r) for r in ROWS[:1239]]
        rows[5][1] = "Changed"
        rows.append(["P9999999", "New", "new@example.com"])
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t", expect=3)
        self.assert_held(out, "would delete 761 of 2,000 people (38%), more than 10%", deleted=761)

    def test_export_cut_inside_the_last_column_trips_the_guard(self):
        # Cut inside the last field, the record has all its fields (its email fails): the
        # reader cannot tell, the guard does.
        self.load()
        body = csv_text(HEADER, ROWS[:1240]).encode()[:-len("example.com\n")]
        self.serve_body(body)
        out, _ = self.sync("t", expect=3)
        self.assert_held(out, "would delete 760 of 2,000 people (38%), more than 10%", deleted=760)

    def test_flag_mode_is_guarded_too(self):
        self.load(on_missing="flag")
        self.serve_body(csv_text(HEADER, ROWS[:1000]).encode())
        out, _ = self.sync("t", expect=3)
        self.assert_held(out, "would flag as missing 1,000 of 2,000 people (50%), more than 10%",
                         deleted=1000)

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
        out, _ = self.sync("t", expect=3)
        self.assertIn("would flag as missing 100 of 100 people (100%), more than 10%", out)
        self.assertEqual(self.table_rows("people"), before)
        self.reject(self.last_run())
        # One row back, 99 of the 100 rows go: still the share of the 100.
        self.serve_body(csv_text(HEADER, ROWS[:1901]).encode())
        out, _ = self.sync("t", expect=3)
        self.assertIn("would flag as missing 99 of 100 people (99%)", out)

    def test_up_to_the_limit_goes_through(self):
        self.load()
        self.serve_body(csv_text(HEADER, ROWS[200:]).encode())
        out, _ = self.sync("t")
        self.assertIn("200 deleted", out)

    def test_allow_missing_lets_one_run_through_and_is_recorded(self):
        self.load()
        self.serve_body(csv_text(HEADER, ROWS[:1239]).encode())
        self.sync("t", expect=3)
        # The held run blocks the next one until it is decided.
        code, out, err = self.run_ferry("sync", "t", "--allow-missing")
        self.assertEqual(code, 1, out + err)
        self.assertIn("held for review", err)
        self.reject(self.last_run())
        out, _ = self.sync("t", "--allow-missing")
        self.assertIn("1239 unchanged, 0 skipped, 0 failed, 761 deleted.", out)
        self.assertEqual(len(self.table_rows("people")), 1239)
        run = self.last_run()
        self.assertEqual((run["status"], run["deleted"]), ("succeeded", 761))
        self.assertTrue(run["allow_missing"])
        # The next run is guarded again.
        self.serve_body(csv_text(HEADER, ROWS[:500]).encode())
        out, _ = self.sync("t", expect=3)
        self.assertIn("would delete 739 of 1,239 people (60%)", out)

    def test_config_allows_any_share(self):
        self.load(guard={"max_missing": "100%"})
        self.serve_body(csv_text(HEADER, ROWS[:1239]).encode())
        out, _ = self.sync("t")
        self.assertIn("761 deleted", out)

    def test_config_count_limit(self):
        self.load(guard={"max_missing": 5})
        self.serve_body(csv_text(HEADER, ROWS[:1994]).encode())
        out, _ = self.sync("t", expect=3)
        self.assertIn("would delete 6 of 2,000 people (0.3%), more than 5", out)
        self.reject(self.last_run())
        self.serve_body(csv_text(HEADER, ROWS[:1995]).encode())
        out, _ = self.sync("t")
        self.assertIn("5 deleted", out)

    def test_api_run_with_allow_missing(self):
        self.load()
        self.serve_body(csv_text(HEADER, ROWS[:1239]).encode())
        with self.serve() as srv:
            run = srv.run_to_end("t", status="held")
            self.assertEqual(run["held_reason"],
                             "would delete 761 of 2,000 people (38%), more than 10%")
            self.assertFalse(run["allow_missing"])
            # It blocks the next run: 409, naming it.
            r = srv.post("/api/syncs/t/runs", body={"allow_missing": True})
            self.assertEqual(r.status, 409, r)
            self.assertEqual(r.json["error"]["code"], "held")
            self.assertEqual(r.json["run"]["id"], run["id"])
            r = srv.post("/api/runs/%d/reject" % run["id"], body={"comment": "wrong tab"})
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json["status"], r.json["decision"], r.json["decision_comment"]),
                             ("rejected", "rejected", "wrong tab"))
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
    def test_too_many_failed_records_hold_the_run(self):
        self.load(on_missing="keep", guard={"max_failed": "1%"})
        rows = [list(r) for r in ROWS]
        for r in rows[100:121]:
            r[2] = "not-an-email"
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t", expect=3)
        run = self.assert_held(out, "21 of 2,000 people failed (1%), more than 1% (the first: row "
                                    "102: email 'not-an-email' is not an email address)")
        self.assertEqual(run["failed"], 21)
        self.reject(run)
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


class MaxUpdatedTest(GuardTestCase):
    def test_an_update_of_more_than_the_share_is_held_from_the_first_row(self):
        self.load(on_missing="keep", guard={"max_updated": "30%"}, rows=people_rows(10))
        rows = [list(r) for r in people_rows(10)]
        for r in rows[:5]:
            r[1] += " (moved)"
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t", expect=3)
        run = self.assert_held(out, "would update 5 of 10 people (50%), more than 30%")
        self.assertEqual([c["outcome"] for c in self.changes(run["id"])], ["updated"] * 5)
        code, shown, _ = self.run_ferry("show", str(run["id"]))
        self.assertEqual(code, 0)
        self.assertIn("status:    held", shown)
        self.assertIn('{"name":["Person 0","Person 0 (moved)"]}', shown)
        self.reject(run)
        # Three of ten is within 30%.
        self.serve_body(csv_text(HEADER, [r if i >= 3 else r for i, r in
                                          enumerate(rows[:3] + people_rows(10)[3:])]).encode())
        out, _ = self.sync("t")
        self.assertIn("3 updated", out)


class ProtectTest(GuardTestCase):
    def test_a_change_to_a_protected_field_waits_for_an_admin(self):
        self.load(on_missing="keep", guard={"protect": ["email"]}, rows=people_rows(20))
        rows = [list(r) for r in people_rows(20)]
        rows[3][2] = "new3@example.com"
        rows[4][1] = "Renamed"
        self.serve_body(csv_text(HEADER, rows).encode())
        # Only a name changed elsewhere: not held.
        with self.serve() as srv:
            self.make_user("olive", "operator", password="operator-pass-1")
            op = self.make_token("olive", "operator")
            run = srv.run_to_end("t", status="held")
            self.assertEqual(run["held_reason"],
                             "would change protected field email of 1 of 20 people")
            self.assertTrue(run["held_admin"])
            r = srv.post("/api/runs/%d/approve" % run["id"], headers=ferrytest.auth_headers(op))
            self.assertEqual(r.status, 403, r)
            self.assertIn("only an admin may approve it", r.json["error"]["message"])
            self.assertEqual(self.table_rows("people"), self.before)
            r = srv.post("/api/runs/%d/approve" % run["id"], body={"comment": "checked"})
            self.assertEqual(r.status, 202, r)
            done = srv.wait_run(run["id"], lambda x: x["status"] not in ("queued", "running"))
            self.assertEqual((done["status"], done["decision"], done["decided_by"]),
                             ("succeeded", "approved", ferrytest.ADMIN_USER), done)
            self.assertEqual(done["counts"]["updated"], 2)
        emails = {r[0]: r for r in self.table_rows("people")}
        self.assertIn("new3@example.com", str(emails))
        audit = self.query("SELECT actor, action, target, detail FROM ferry_audit WHERE action"
                           " LIKE 'run.%' ORDER BY id")
        self.assertEqual(audit, [(ferrytest.ADMIN_USER, "run.approve", "run %d" % run["id"],
                                  "checked")])


class ApprovalTest(GuardTestCase):
    def held_run(self):
        """A table of 20 people, then a run that would delete 12 of them, held."""
        self.load(rows=people_rows(20))
        self.serve_body(csv_text(HEADER, people_rows(8)).encode())
        out, _ = self.sync("t", expect=3)
        return self.assert_held(out, "would delete 12 of 20 people (60%), more than 10%",
                                deleted=12)

    def snapshot_dir(self, run):
        return os.path.join(self.dir, "ferry-data", "held", str(run["id"]))

    def test_approval_applies_what_was_reviewed_not_what_the_source_holds_now(self):
        run = self.held_run()
        self.assertTrue(os.path.isdir(self.snapshot_dir(run)))
        # The source changes after the review: the approval must not see it.
        self.serve_body(csv_text(HEADER, people_rows(3)).encode())
        out = self.ferry_ok("approve", str(run["id"]), "--comment", "the tab is right")
        self.assertIn("Run %d succeeded" % run["id"], out)
        self.assertEqual([r[0] for r in self.table_rows("people")],
                         [r[0] for r in people_rows(8)])
        got = self.last_run()
        self.assertEqual((got["id"], got["status"], got["decision"], got["decision_comment"]),
                         (run["id"], "succeeded", "approved", "the tab is right"))
        self.assertEqual(sum(1 for c in self.changes(run["id"]) if c["outcome"] == "deleted"), 12)
        self.assertFalse(os.path.exists(self.snapshot_dir(run)))
        # Twice: refused, nothing changes.
        code, out, err = self.run_ferry("approve", str(run["id"]))
        self.assertEqual(code, 1, out + err)
        self.assertIn("run %d is succeeded, not held" % run["id"], err)
        code, out, err = self.run_ferry("reject", str(run["id"]))
        self.assertEqual(code, 1, out + err)
        code, out, err = self.run_ferry("approve", "999")
        self.assertEqual(code, 1, out + err)
        self.assertIn("there is no run 999", err)

    def test_a_target_changed_since_the_review_holds_the_run_again(self):
        run = self.held_run()
        # The app deletes one of the rows the run would delete: its changes differ now.
        self.db_exec("DELETE FROM people WHERE id = 'P0000019'")
        code, out, err = self.run_ferry("approve", str(run["id"]))
        self.assertEqual(code, 3, out + err)
        self.assertIn("the target changed since the review: applied now, its changes differ "
                      "from the ones reviewed (11 now, 12 then); review them again", out)
        again = self.last_run()
        self.assertEqual((again["id"], again["status"]), (run["id"], "held"))
        self.assertEqual(sum(1 for c in self.changes(run["id"]) if c["outcome"] == "deleted"), 11)
        self.assertEqual(len(self.table_rows("people")), 19)
        # Approved again, as it now reads, it applies.
        self.ferry_ok("approve", str(run["id"]))
        self.assertEqual(len(self.table_rows("people")), 8)

    def test_rejection_drops_the_run_and_its_snapshot(self):
        run = self.held_run()
        out = self.ferry_ok("reject", str(run["id"]), "--comment", "wrong tab")
        self.assertIn("Run %d rejected: wrong tab. Nothing was applied." % run["id"], out)
        self.assertEqual(self.table_rows("people"), self.before)
        got = self.last_run()
        self.assertEqual((got["status"], got["decision"], got["decision_comment"]),
                         ("rejected", "rejected", "wrong tab"))
        self.assertFalse(os.path.exists(self.snapshot_dir(run)))
        audit = self.query("SELECT action, target, detail FROM ferry_audit ORDER BY id")
        self.assertIn(("run.reject", "run %d" % run["id"], "wrong tab"), audit)
        # The sync runs again (and is held again: the source still lacks the rows).
        self.sync("t", expect=3)

    def test_an_approval_whose_snapshot_is_gone_is_refused(self):
        run = self.held_run()
        for name in os.listdir(self.snapshot_dir(run)):
            os.unlink(os.path.join(self.snapshot_dir(run), name))
        os.rmdir(self.snapshot_dir(run))
        code, out, err = self.run_ferry("approve", str(run["id"]))
        self.assertEqual(code, 1, out + err)
        self.assertIn("is no longer kept", err)
        self.assertEqual(self.last_run()["status"], "held")

    def test_an_undecided_run_expires_after_hold_for(self):
        run = self.held_run()
        self.db_exec("UPDATE ferry_runs SET held_until = %s WHERE id = %d"
                     % ("now() - interval '1 second'" if ferrytest.ON_POSTGRES
                        else "'2000-01-01T00:00:00.000Z'", run["id"]))
        with self.serve() as srv:
            got = srv.wait_run(run["id"], lambda x: x["status"] == "rejected",
                               what="to expire")
            self.assertEqual((got["decision"], got["decided_by"]), ("expired", "ferry"))
        self.assertFalse(os.path.exists(self.snapshot_dir(run)))
        self.assertEqual(self.table_rows("people"), self.before)

    def test_a_viewer_cannot_decide(self):
        run = self.held_run()
        with self.serve() as srv:
            self.make_user("vera", "viewer", password="viewer-pass-1")
            viewer = self.make_token("vera", "viewer")
            for action in ("approve", "reject"):
                r = srv.post("/api/runs/%d/%s" % (run["id"], action),
                             headers=ferrytest.auth_headers(viewer))
                self.assertEqual(r.status, 403, r)
            r = srv.post("/api/runs/%d/approve" % run["id"], body={"comment": 5})
            self.assertEqual(r.status, 400, r)
        self.assertEqual(self.last_run()["status"], "held")

    def test_preview_holds_a_run_that_breaks_no_rule(self):
        self.load(on_missing="keep", rows=people_rows(5))
        rows = [list(r) for r in people_rows(6)]
        rows[0][1] = "Changed"
        self.serve_body(csv_text(HEADER, rows).encode())
        out, _ = self.sync("t", "--preview", expect=3)
        self.assertIn("Held for review: a preview: nothing is applied until it is approved.", out)
        self.assertEqual(self.table_rows("people"), self.before)
        with self.serve() as srv:
            run = srv.get_json("/api/runs/%d" % self.last_run()["id"])
            self.assertTrue(run["preview"])
            self.assertEqual(run["status"], "held")
            r = srv.post("/api/runs/%d/approve" % run["id"])
            self.assertEqual(r.status, 202, r)
            done = srv.wait_run(run["id"], lambda x: x["status"] not in ("queued", "running"))
            self.assertEqual(done["status"], "succeeded", done)
            r = srv.post("/api/syncs/t/runs", body={"preview": "yes"})
            self.assertEqual(r.status, 400, r)
            r = srv.post("/api/syncs/t/runs", body={"preview": True})
            self.assertEqual(r.status, 202, r)
            held = srv.wait_run(r.json["id"])
            self.assertEqual((held["status"], held["counts"]["unchanged"]), ("held", 6), held)
        self.assertEqual(len(self.table_rows("people")), 6)

    def test_an_approval_killed_midway_leaves_the_table_before_or_after(self):
        # A big held update, its approval killed (SIGKILL) a moment after it starts, wherever
        # it is: replaying, applying or committing. No timing decides the verdict: the table
        # must be exactly as before or exactly as after.
        n = 60000
        rows = people_rows(n)
        self.load(on_missing="keep", guard={"max_updated": "10%"}, rows=rows)
        changed = [[r[0], r[1] + " v2", r[2]] for r in rows]
        self.serve_body(csv_text(HEADER, changed).encode())
        self.sync("t", expect=3)
        held = self.last_run()
        after = sorted(tuple(r) for r in changed)
        delay = random.Random(held["id"]).uniform(0.02, 0.4)
        proc = self.start_ferry("approve", str(held["id"]))
        time.sleep(delay)
        proc.kill()
        proc.wait(timeout=30)
        table = self.table_rows("people")
        self.assertIn(table, (self.before, [tuple(r) for r in after]),
                      "killed %.2f s in: neither before nor after" % delay)
        status = self.last_run()["status"]
        self.assertIn(status, ("running", "succeeded"), self.last_run()["error"])
        if status == "succeeded":
            self.assertEqual(table, [tuple(r) for r in after])

    def test_a_dry_run_says_it_would_be_held(self):
        self.load(rows=people_rows(20))
        self.serve_body(csv_text(HEADER, people_rows(8)).encode())
        out, _ = self.sync("t", "--dry-run")
        self.assertIn("Dry run, nothing was changed. A real run would be held: would delete 12 "
                      "of 20 people (60%), more than 10%.", out)
        self.assertEqual(self.last_run()["status"], "succeeded")


if __name__ == "__main__":
    ferrytest.main()
