"""on_missing: what happens to rows whose key the source no longer has.

keep leaves them; delete removes them (counted, with change rows 'deleted'); flag sets
ferry_missing_since and clears it when the row comes back. on_missing is skipped when a record
failed before its key could be read (that row might still be in the source), and a run that
fails changes nothing at all.
"""

import json
import re

import ferrytest
from ferrytest import people_rows, sync_config

HEADER = ["id", "name", "email"]
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")


class OnMissingTestCase(ferrytest.FerryTestCase):
    def setup_sync(self, on_missing):
        self.write_config({"t": sync_config("people.csv", on_missing=on_missing)})
        self.write_csv("people.csv", HEADER, people_rows(5))
        self.sync("t")

    def ids(self):
        return [r[0] for r in self.query("SELECT id FROM people ORDER BY id")]


class KeepTest(OnMissingTestCase):
    def test_keep_leaves_rows_that_left_the_source(self):
        self.setup_sync("keep")
        self.write_csv("people.csv", HEADER, people_rows(3))
        out, _ = self.sync("t")
        self.assertIn("Processed 3 people: 0 created, 0 updated, 3 unchanged, 0 skipped, "
                      "0 failed.", out)
        self.assertEqual(len(self.ids()), 5)
        self.assertEqual(self.last_run()["deleted"], 0)


class DeleteTest(OnMissingTestCase):
    def test_delete_removes_rows_that_left_the_source(self):
        self.setup_sync("delete")
        rows = people_rows(5)
        self.write_csv("people.csv", HEADER, [rows[0], rows[2], rows[4]])
        out, _ = self.sync("t")
        self.assertIn("Processed 3 people: 0 created, 0 updated, 3 unchanged, 0 skipped, "
                      "0 failed, 2 deleted.", out)
        self.assertEqual(self.ids(), ["P0000000", "P0000002", "P0000004"])
        run = self.last_run()
        self.assertEqual(run["deleted"], 2)
        deleted = [c for c in self.changes(run["id"]) if c["outcome"] == "deleted"]
        self.assertEqual(sorted(c["record_key"] for c in deleted), ["P0000001", "P0000003"])
        for c in deleted:
            self.assertEqual(c["reason"], "no longer in the source: deleted")
            self.assertIsNone(c["row"])
        self.assertIn("Deleted: ", run["log_message"])
        code, out, _ = self.run_ferry("show", str(run["id"]))
        self.assertIn("2 deleted", out)
        self.assertRegex(out, r"deleted\s+P0000001\s+no longer in the source: deleted")

    def test_record_that_fails_with_a_readable_key_protects_its_row(self):
        self.setup_sync("delete")
        rows = people_rows(5)
        rows[1][2] = "not-an-email"
        self.write_csv("people.csv", HEADER, rows[:4])
        out, _ = self.sync("t")
        self.assertIn("0 created, 0 updated, 3 unchanged, 0 skipped, 1 failed, 1 deleted.", out)
        # P1 failed validation but its key was read: its row stays (with its old values).
        self.assertEqual(self.ids(), ["P0000000", "P0000001", "P0000002", "P0000003"])
        self.assertEqual(self.query("SELECT email FROM people WHERE id='P0000001'"),
                         [("p1@example.com",)])

    def test_record_failing_before_its_key_is_read_stops_on_missing(self):
        self.setup_sync("delete")
        before = self.table_rows("people")
        # P4 left the source, and a ragged row hides a key: nothing may be deleted.
        content = ("id,name,email\n" + "".join(",".join(r) + "\n" for r in people_rows(3)) +
                   "P0000003,Person 3\n")
        self.write_file("people.csv", content)
        out, _ = self.sync("t")
        self.assertIn("0 created, 0 updated, 3 unchanged, 0 skipped, 1 failed, 0 deleted.", out)
        self.assertEqual(self.table_rows("people"), before)
        run = self.last_run()
        self.assertEqual((run["status"], run["deleted"]), ("succeeded", 0))
        self.assertIn("on_missing was not applied: some records failed before their key could "
                      "be read, and their rows must not be removed.", run["log_message"])
        self.assertEqual([c["outcome"] for c in self.changes(run["id"])], ["failed"])

    def test_empty_key_also_stops_on_missing(self):
        self.setup_sync("delete")
        before = self.table_rows("people")
        self.write_csv("people.csv", HEADER, people_rows(2) + [["", "Nobody", "n@example.com"]])
        out, _ = self.sync("t")
        self.assertIn("1 failed, 0 deleted.", out)
        self.assertEqual(self.table_rows("people"), before)
        self.assertIn("on_missing was not applied", self.last_run()["log_message"])

    def test_dry_run_reports_deletions_without_deleting(self):
        self.setup_sync("delete")
        before = self.table_rows("people")
        self.write_csv("people.csv", HEADER, people_rows(4))
        out, _ = self.sync("t", "--dry-run")
        self.assertIn("Dry run, nothing was changed.", out)
        self.assertIn("1 deleted.", out)
        self.assertIn("Deleted: P0000004.", out)
        self.assertEqual(self.table_rows("people"), before)
        self.assertEqual(self.changes(self.last_run()["id"]), [])


class CompositeKeyTest(OnMissingTestCase):
    def test_composite_key_rows_are_matched_deleted_and_reported_by_every_key_field(self):
        fields = {"building": {}, "room": {"type": "integer"}, "name": {}}
        self.write_config({"t": sync_config("rooms.csv", table="rooms", key=["building", "room"],
                                            fields=fields, on_missing="delete")})
        self.write_csv("rooms.csv", ["building", "room", "name"],
                       [["A", "1", "Lobby"], ["A", "2", "Lab"], ["B", "1", "Hall"],
                        ["B", "01", "Hall again"]])
        out, _ = self.sync("t")
        self.assertIn("3 created, 0 updated, 0 unchanged, 0 skipped, 1 failed, 0 deleted.", out)
        failed = [c for c in self.changes(1) if c["outcome"] == "failed"]
        self.assertEqual([(c["record_key"], c["reason"]) for c in failed], [
            ("building=B, room=1", "row 5: duplicate key 'building=B, room=1': an earlier row "
                                   "of this source has the same key")])
        # Integer key fields match whatever the spelling ('002' is room 2).
        self.write_csv("rooms.csv", ["building", "room", "name"],
                       [["A", "002", "Big lab"], ["B", "1", "Hall"]])
        out, _ = self.sync("t")
        self.assertIn("0 created, 1 updated, 1 unchanged, 0 skipped, 0 failed, 1 deleted.", out)
        self.assertEqual(self.table_rows("rooms"), [("A", 2, "Big lab"), ("B", 1, "Hall")])
        self.assertEqual([(c["outcome"], c["record_key"]) for c in self.changes(2)],
                         [("updated", "building=A, room=2"), ("deleted", "building=A, room=1")])


class FlagTest(OnMissingTestCase):
    def test_flag_marks_missing_rows_and_clears_the_mark_when_they_return(self):
        self.setup_sync("flag")
        cols = self.columns("people")
        self.assertEqual(cols, ["id", "name", "email", "ferry_missing_since"])
        self.assertEqual(self.query("SELECT count(*) FROM people WHERE ferry_missing_since "
                                    "IS NOT NULL"), [(0,)])

        # Two rows leave the source: flagged, not deleted.
        self.write_csv("people.csv", HEADER, people_rows(3))
        out, _ = self.sync("t")
        self.assertIn("3 unchanged, 0 skipped, 0 failed, 2 flagged as missing.", out)
        flagged = dict(self.query("SELECT id, ferry_missing_since FROM people "
                                  "WHERE ferry_missing_since IS NOT NULL"))
        self.assertEqual(sorted(flagged), ["P0000003", "P0000004"])
        for since in flagged.values():
            self.assertRegex(since, ISO_UTC)
        run = self.last_run()
        self.assertEqual(run["deleted"], 2)
        self.assertEqual(sorted((c["outcome"], c["record_key"], c["reason"])
                                for c in self.changes(run["id"])),
                         [("deleted", "P0000003", "no longer in the source: flagged as missing"),
                          ("deleted", "P0000004", "no longer in the source: flagged as missing")])

        # Still missing: not flagged again, the first time is kept.
        out, _ = self.sync("t")
        self.assertIn("0 flagged as missing.", out)
        self.assertEqual(dict(self.query("SELECT id, ferry_missing_since FROM people "
                                         "WHERE ferry_missing_since IS NOT NULL")), flagged)

        # P3 comes back: its mark is cleared (an update, with the diff).
        self.write_csv("people.csv", HEADER, people_rows(4))
        out, _ = self.sync("t")
        self.assertIn("0 created, 1 updated, 3 unchanged, 0 skipped, 0 failed, "
                      "0 flagged as missing.", out)
        self.assertEqual(dict(self.query("SELECT id, ferry_missing_since FROM people "
                                         "WHERE ferry_missing_since IS NOT NULL")),
                         {"P0000004": flagged["P0000004"]})
        updated = [c for c in self.changes(self.last_run()["id"]) if c["outcome"] == "updated"]
        self.assertEqual(len(updated), 1)
        self.assertEqual(updated[0]["record_key"], "P0000003")
        self.assertEqual(json.loads(updated[0]["diff"]),
                         {"ferry_missing_since": [flagged["P0000003"], None]})
        self.assertEqual(len(self.ids()), 5)

    def test_flag_adds_its_column_to_an_existing_table(self):
        self.setup_sync("keep")
        self.write_config({"t": sync_config("people.csv", on_missing="flag")})
        self.write_csv("people.csv", HEADER, people_rows(4))
        out, _ = self.sync("t")
        self.assertIn("1 flagged as missing.", out)
        self.assertEqual(self.query("SELECT id FROM people WHERE ferry_missing_since IS NOT NULL"),
                         [("P0000004",)])


class FailedRunTest(OnMissingTestCase):
    """A run that fails leaves the table exactly as it was, whatever on_missing says."""

    def assert_failed_run_changes_nothing(self, on_missing, bad_csv, fragment):
        self.setup_sync(on_missing)
        # Some history first, so the table is not simply the first load.
        rows = people_rows(5)
        rows[0][1] = "Renamed"
        self.write_csv("people.csv", HEADER, rows[:4])
        self.sync("t")
        before_rows = self.table_rows("people")
        before_changes = self.query("SELECT * FROM ferry_changes ORDER BY run_id, seq")
        self.write_file("people.csv", bad_csv)
        out, _ = self.sync("t", expect=1)
        self.assertIn(fragment, out)
        self.assertIn("Nothing was changed.", out)
        self.assertEqual(self.table_rows("people"), before_rows)
        self.assertEqual(self.query("SELECT * FROM ferry_changes ORDER BY run_id, seq"),
                         before_changes)
        run = self.last_run()
        self.assertEqual((run["status"], run["created"], run["updated"], run["deleted"]),
                         ("failed", 0, 0, 0))

    def test_missing_header_column_on_second_run_changes_nothing_with_delete(self):
        self.assert_failed_run_changes_nothing(
            "delete", "id,name\nP0000009,New\n", "missing required columns: 'email'")

    def test_missing_header_column_on_second_run_changes_nothing_with_flag(self):
        self.assert_failed_run_changes_nothing(
            "flag", "id,email\nP0000009,n@example.com\n", "missing required columns: 'name'")

    def test_empty_source_changes_nothing_with_delete(self):
        self.assert_failed_run_changes_nothing("delete", b"", "is empty")

    def test_table_schema_mismatch_fails_before_writing(self):
        self.setup_sync("delete")
        before = self.table_rows("people")
        self.write_config({"t": sync_config("people.csv", on_missing="delete", fields={
            "id": {}, "name": {}, "email": {"type": "email"}, "phone": {}})})
        self.write_csv("people.csv", ["id", "name", "email", "phone"],
                       [r + ["123"] for r in people_rows(2)])
        out, _ = self.sync("t", expect=1)
        self.assertIn("table people exists but has no column 'phone'", out)
        self.assertEqual(self.table_rows("people"), before)


if __name__ == "__main__":
    ferrytest.main()
