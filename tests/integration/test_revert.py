"""Reverting a run: `ferry revert RUN` and POST /api/runs/{id}/revert.

A revert is a new run of the same sync (trigger revert, reverts naming the run) that deletes
what the run created, restores what it updated and re-inserts what it deleted (from the
values the deleted change rows keep), or clears the flag it set; a sync with steps is
reverted step by step in reverse order. Records changed since (by the application, or by a
later run) are conflicts: listed and left alone unless forced. Refusals change nothing and
record no run. The same tests run on PostgreSQL (pgsuite/test_revert).
"""

import json
import os

import ferrytest
from ferrytest import ON_POSTGRES, auth_headers, people_rows, sync_config
from test_steps import TABLES, catalog_sync, BRANDS, PACKAGES
import test_app_tables as apptables

HEADER = ["id", "name", "email"]
BEFORE = apptables.BEFORE


class RevertTestCase(ferrytest.FerryTestCase):
    def setup_runs(self, on_missing="delete"):
        """Run 1 creates P0..P4; run 2 updates P0, creates P5 and deletes (or flags) P1.
        Returns the table after run 1 and after run 2."""
        self.write_config({"t": sync_config("people.csv", on_missing=on_missing)})
        rows = people_rows(5)
        self.write_csv("people.csv", HEADER, rows)
        self.sync("t")
        after_1 = self.table_rows("people")
        changed = [["P0000000", "Renamed", "p0@example.com"]] + rows[2:] + people_rows(1, 5)
        self.write_csv("people.csv", HEADER, changed)
        self.sync("t")
        return after_1, self.table_rows("people")

    def revert(self, run_id, *extra, expect=0):
        code, out, err = self.run_ferry("revert", str(run_id), *extra)
        self.assertEqual(code, expect, "ferry revert exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (code, out, err))
        return out, err


class RevertCliTest(RevertTestCase):
    def test_revert_deletes_creates_restores_updates_and_reinserts_deletes(self):
        after_1, _ = self.setup_runs("delete")
        deleted = [c for c in self.changes(2) if c["outcome"] == "deleted"]
        self.assertEqual([json.loads(c["row_values"]) for c in deleted],
                         [{"id": "P0000001", "name": "Person 1", "email": "p1@example.com"}])
        out, _ = self.revert(2, "--comment", "bad file")
        self.assertIn("Reverted run 2: 1 deleted, 1 restored, 1 re-inserted.", out)
        self.assertEqual(self.table_rows("people"), after_1)
        run = self.last_run()
        self.assertEqual((run["id"], run["trigger"], run["status"], run["reverts"],
                          run["revert_comment"], run["user_name"]),
                         (3, "revert", "succeeded", 2, "bad file", "tester"))
        got = [(c["record_key"], c["outcome"]) for c in self.changes(3)]
        self.assertEqual(got, [("P0000001", "created"), ("P0000005", "deleted"),
                               ("P0000000", "updated")])
        self.assertEqual(json.loads(self.changes(3)[2]["diff"]),
                         {"name": ["Renamed", "Person 0"]})
        audit = self.query_dicts("SELECT actor, target, detail FROM ferry_audit"
                                 " WHERE action = 'run.revert'")
        self.assertEqual(len(audit), 1)
        self.assertEqual((audit[0]["actor"], audit[0]["target"]), ("cli", "run 2"))
        self.assertIn("bad file", audit[0]["detail"])
        _, show, _ = self.run_ferry("show", "3")
        self.assertIn("reverts:   run 2", show)

    def test_the_revert_of_a_revert_restores_what_the_run_did(self):
        _, after_2 = self.setup_runs("delete")
        self.revert(2)
        out, _ = self.revert(3)
        self.assertIn("Reverted run 3: 1 deleted, 1 restored, 1 re-inserted.", out)
        self.assertEqual(self.table_rows("people"), after_2)

    def test_revert_of_a_flag_clears_it(self):
        after_1, _ = self.setup_runs("flag")
        self.assertEqual(self.query("SELECT count(*) FROM people"
                                    " WHERE ferry_missing_since IS NOT NULL"), [(1,)])
        out, _ = self.revert(2)
        self.assertIn("Reverted run 2: 1 deleted, 2 restored, 0 re-inserted.", out)
        self.assertEqual(self.table_rows("people"), after_1)

    def test_conflicts_are_left_alone_unless_forced(self):
        after_1, _ = self.setup_runs("delete")
        rows = [["P0000000", "Renamed", "p0@example.com"]] + people_rows(3, 2) + \
            [["P0000005", "Person 5", "new5@example.com"]]
        self.write_csv("people.csv", HEADER, rows)
        self.sync("t")  # run 3: a later run changes P5
        self.db_exec("UPDATE people SET name = 'By the app' WHERE id = 'P0000000'")
        out, _ = self.revert(2)
        self.assertIn("Reverted run 2: 0 deleted, 0 restored, 1 re-inserted,"
                      " 2 conflicts left alone.", out)
        self.assertIn("Conflicts", out)
        self.assertIn("P0000005: conflict: changed since by run 3", out)
        skipped = [c for c in self.changes(4) if c["outcome"] == "skipped"]
        self.assertEqual(sorted(c["record_key"] for c in skipped), ["P0000000", "P0000005"])
        for c in skipped:
            self.assertTrue(c["reason"].startswith("conflict: "), c)
        self.assertEqual(self.query("SELECT name FROM people WHERE id = 'P0000000'"),
                         [("By the app",)])
        self.assertEqual(self.query("SELECT count(*) FROM people WHERE id = 'P0000005'"),
                         [(1,)])
        out, _ = self.revert(2, "--force")
        self.assertIn("conflicts forced", out)
        self.assertEqual(self.table_rows("people"), after_1)

    def test_a_run_with_steps_is_reverted_in_reverse_order(self):
        self.exec_script(TABLES["postgres" if ON_POSTGRES else "sqlite"])
        self.write_csv("brands.csv", ["Code", "Name"], BRANDS)
        self.write_csv("packages.csv", ["Code", "Name", "Brand"], PACKAGES)
        self.write_config({"catalog": catalog_sync()})
        before_brands = self.table_rows("brands")
        self.assertEqual(self.run_ferry("sync", "catalog")[0], 0)
        self.assertEqual(self.query("SELECT count(*) FROM packages"), [(3,)])
        out, _ = self.revert(1)
        self.assertIn("Reverted run 1: 5 deleted, 0 restored, 0 re-inserted.", out)
        self.assertEqual(self.query("SELECT count(*) FROM packages"), [(0,)])
        self.assertEqual(self.table_rows("brands"), before_brands)
        steps = [c["step"] for c in self.changes(2)]
        self.assertEqual(steps, ["packages"] * 3 + ["brands"] * 2)

    def test_refusals_change_nothing_and_record_no_run(self):
        _, after_2 = self.setup_runs("delete")
        self.sync("t", "--dry-run")  # run 3
        with open(self.config_path) as f:
            self.write_file("ferry.yaml", f.read().replace("people.csv", "missing.csv"))
        self.sync("t", expect=1)  # run 4 fails
        for run_id, why in ((3, "run 3 was a dry run"), (4, "run 4 failed"),
                            (99, "there is no run 99")):
            _, err = self.revert(run_id, expect=1)
            self.assertIn(why, err)
        self.assertEqual(len(self.runs()), 4)
        self.assertEqual(self.table_rows("people"), after_2)

    def test_a_revert_that_fails_changes_nothing_and_says_why(self):
        self.setup_runs("delete")
        # The application now has P1's e-mail on a row of its own: P1 cannot come back.
        self.exec_script("CREATE UNIQUE INDEX people_email ON people (email);"
                         "INSERT INTO people (id, name, email)"
                         " VALUES ('X1', 'Taken', 'p1@example.com');")
        before = self.table_rows("people")
        out, _ = self.revert(2, expect=1)
        self.assertIn("Run 3 (revert of run 2): failed", out)
        self.assertEqual(self.table_rows("people"), before)
        run = self.last_run()
        self.assertEqual((run["id"], run["status"], run["trigger"]), (3, "failed", "revert"))
        self.assertIn("inserting a row again", run["error"])
        self.assertTrue(run["ui_message"].endswith("Nothing was changed."), run)
        self.assertEqual(self.changes(3), [])

    def test_a_run_missing_change_rows_is_refused(self):
        _, after_2 = self.setup_runs("delete")
        self.db_exec("DELETE FROM ferry_changes WHERE run_id = 2 AND outcome = 'created'")
        _, err = self.revert(2, "--force", expect=1)
        self.assertIn("run 2 changed 3 records but 2 of its change rows are kept: it cannot be"
                      " reverted", err)
        self.assertEqual(len(self.runs()), 2)
        self.assertEqual(self.table_rows("people"), after_2)

    def test_deleted_rows_without_values_refuse_unless_forced(self):
        after_1, _ = self.setup_runs("delete")
        self.db_exec("UPDATE ferry_changes SET row_values = NULL WHERE run_id = 2")
        _, err = self.revert(2, expect=1)
        self.assertIn("run 2 deleted rows before Ferry kept their values; they cannot be"
                      " re-inserted", err)
        self.assertEqual(len(self.runs()), 2)
        out, _ = self.revert(2, "--force")
        self.assertIn("Reverted run 2: 1 deleted, 1 restored, 0 re-inserted,"
                      " 1 conflict left alone.", out)
        self.assertEqual(self.query("SELECT count(*) FROM people WHERE id = 'P0000001'"),
                         [(0,)])


class RevertAppTableTest(ferrytest.FerryTestCase):
    """A Rails table of typed columns (integer, boolean, decimal, date, uuid, JSON) with
    timestamps (tests/integration/fixtures/apptables): the revert writes each old value in
    its column's type, restores the application's own columns of a deleted row (its id, its
    timestamps), and moves only the restored row's updated_at."""

    def write_rows(self, rows):
        self.write_csv("therapists.csv", apptables.HEADER, rows)

    def test_typed_columns_and_timestamps_are_restored(self):
        with open(os.path.join(apptables.FIXTURES, "rails_%s.sql" % apptables.BACKEND_NAME)) as f:
            self.exec_script(f.read())
        self.exec_script("INSERT INTO locations (name, created_at, updated_at) VALUES"
                         " ('Jakarta', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),"
                         " ('Bandung', '2024-01-01 00:00:00', '2024-01-01 00:00:00');")
        rows = apptables.rows_for("rails")
        self.write_rows(rows)
        self.write_config({"therapists": {
            "source": {"url": "therapists.csv"},
            "target": {"table": "therapists", "key": "email", "timestamps": True,
                       "on_missing": "delete"},
            "fields": apptables.fields()}})
        self.sync("therapists")
        self.db_exec("UPDATE therapists SET created_at = ?, updated_at = ?",
                     (BEFORE, BEFORE))
        before = self.table_rows("therapists", order_by="id")
        budi = list(rows[1])
        for column, value in apptables.CHANGES:
            budi[apptables.HEADER.index(column)] = value
        self.write_rows([rows[0], budi])
        self.sync("therapists")
        self.db_exec("UPDATE therapists SET updated_at = ?", (BEFORE,))
        code, out, err = self.run_ferry("revert", "2")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Reverted run 2: 0 deleted, 1 restored, 1 re-inserted.", out)
        after = self.table_rows("therapists", order_by="id")
        cols = self.columns("therapists")
        stamp, profile = cols.index("updated_at"), cols.index("profile")

        def by_value(r):  # a diff keeps JSON in its comparison form: the same value
            r = list(r)
            r[profile] = json.loads(r[profile]) if isinstance(r[profile], str) else r[profile]
            return r[:stamp] + r[stamp + 1:]
        self.assertEqual([by_value(r) for r in after], [by_value(r) for r in before])
        moved = {r[cols.index("email")]: str(r[stamp]).replace("T", " ") for r in after}
        self.assertGreater(moved["budi@clinic.example"], BEFORE)
        self.assertTrue(moved["citra@clinic.example"].startswith(BEFORE), moved)
        self.assertTrue(moved["ayu@clinic.example"].startswith(BEFORE), moved)


class RevertApiTest(RevertTestCase):
    def test_operators_revert_through_the_api_and_viewers_may_not(self):
        after_1, _ = self.setup_runs("delete")
        self.sync("t", "--dry-run")  # run 3
        self.make_user("vera", "viewer")
        self.make_user("otto", "operator")
        viewer, operator = self.make_token("vera"), self.make_token("otto")
        with self.serve() as srv:
            r = srv.post("/api/runs/2/revert", {}, headers=auth_headers(viewer))
            self.assertEqual(r.status, 403, r)
            r = srv.post("/api/runs/99/revert", {}, headers=auth_headers(operator))
            self.assertEqual(r.status, 404, r)
            r = srv.post("/api/runs/3/revert", {}, headers=auth_headers(operator))
            self.assertEqual(r.status, 409, r)
            self.assertIn("dry run", r.json["error"]["message"])
            r = srv.post("/api/runs/2/revert", {"force": "yes"}, headers=auth_headers(operator))
            self.assertEqual(r.status, 400, r)
            r = srv.post("/api/runs/2/revert", {"comment": "wrong export"},
                         headers=auth_headers(operator))
            self.assertEqual(r.status, 201, r)
            self.assertEqual((r.json["trigger"], r.json["status"], r.json["reverts"],
                              r.json["user"]), ("revert", "succeeded", 2, "otto"), r.json)
            got = srv.get_json("/api/runs/%d" % r.json["id"])
            self.assertEqual(got["reverts"], 2)
            changes = srv.get_json("/api/runs/2/changes?outcome=deleted")["changes"]
            self.assertEqual(changes[0]["values"]["name"], "Person 1")
        self.assertEqual(self.table_rows("people"), after_1)
        audit = self.query_dicts("SELECT actor, target, detail FROM ferry_audit"
                                 " WHERE action = 'run.revert'")
        self.assertEqual([(a["actor"], a["target"]) for a in audit], [("otto", "run 2")])
        self.assertIn("wrong export", audit[0]["detail"])


if __name__ == "__main__":
    ferrytest.main()
