"""A CSV export that was cut off must fail the run and change nothing.

An export or a download that stops early, served with an honest Content-Length, looks like a
whole body to HTTP. What gives it away is its end: the last record has fewer fields than the
header and no line end, or the input ends inside a quoted field. Such a run fails (and is not
a record error), so on_missing never deletes the rows the missing part holds. A last record
with all its fields and no line end is a normal file.
"""

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
ROWS = people_rows(2000)
FULL = csv_text(HEADER, ROWS).encode()


class CutOffTest(ferrytest.FerryTestCase):
    def load(self, on_missing="delete"):
        self.route = self.server.route("/people.csv", body=FULL)
        self.write_config({"t": sync_config(self.route, on_missing=on_missing)})
        out, _ = self.sync("t")
        self.assertIn("2000 created", out)
        self.before = self.table_rows("people")
        self.assertEqual(len(self.before), 2000)

    def serve(self, body):
        self.server.route("/people.csv", body=body)

    def test_export_cut_inside_a_record_fails_and_deletes_nothing(self):
        # 1,239 whole records, then the 1,240th cut inside its name: no line end, 2 of 3
        # fields. Served with a Content-Length that matches, so HTTP sees nothing wrong.
        self.load()
        self.serve(csv_text(HEADER, ROWS[:1239]).encode() + b"P0001239,Person 12")
        out, _ = self.sync("t", expect=1)
        msg = ("looks cut off: its last record (row 1241, line 1241) has 2 of the header's 3 "
               "fields and no line end; download or export it again")
        self.assertIn(msg, out)
        self.assertIn("Nothing was changed.", out)
        self.assertEqual(self.table_rows("people"), self.before)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        self.assertIn(msg, run["error"])
        self.assertEqual((run["deleted"], run["failed"]), (0, 0))
        self.assertEqual(self.changes(run["id"]), [])

    def test_export_cut_inside_a_quoted_field_fails(self):
        self.load(on_missing="flag")
        body = csv_text(HEADER, ROWS[:1240]).encode() + b'P0001240,"Person, 1240'
        self.serve(body)
        out, _ = self.sync("t", expect=1)
        self.assertIn("looks cut off: it ends inside a quoted field of its last record "
                      "(row 1242, line 1242)", out)
        self.assertEqual(self.table_rows("people"), self.before)

    def test_last_record_complete_without_a_line_end_is_fine(self):
        self.load()
        self.serve(FULL[:-1])
        out, _ = self.sync("t")
        self.assertIn("2000 unchanged", out)
        self.assertIn("0 deleted", out)


if __name__ == "__main__":
    ferrytest.main()
