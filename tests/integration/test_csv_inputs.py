"""CSV inputs a spreadsheet export can really produce, good and bad.

Header problems (missing or repeated columns, an empty file) fail the whole run before the
target is touched. Problems in one record (ragged row, oversized field, invalid UTF-8, a NUL
byte) fail that record only, with a reason naming the line, and the rest is applied.
"""

import os

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]


class HeaderTest(ferrytest.FerryTestCase):
    def test_missing_required_columns_fail_the_run_before_the_table_exists(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", ["id", "Full Name"], [["P1", "Ann"]])
        out, err = self.sync("t", expect=1)
        self.assertRegex(out, r"^Run 1 failed in ")
        msg = ("is missing required columns: 'name', 'email' (its header has 'id', "
               "'Full Name')")
        self.assertIn(msg, out)
        self.assertIn("Nothing was changed.", out)
        self.assertFalse(self.table_exists("people"))
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        self.assertIn(msg, run["error"])
        self.assertEqual(run["error_code"], "header")
        self.assertEqual((run["created"], run["failed"]), (0, 0))
        self.assertEqual(self.changes(run["id"]), [])
        # ferry runs shows the failure and why.
        code, out, _ = self.run_ferry("runs")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"\n1\s+failed\s+t\s+.*missing required columns")

    def test_repeated_header_column_fails_with_a_clear_error(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", ["id", "name", "email", "name"], [["P1", "A", "a@x.org", "B"]])
        out, _ = self.sync("t", expect=1)
        self.assertIn("repeats the column 'name' (columns 2 and 4)", out)
        self.assertFalse(self.table_exists("people"))
        self.assertIn("repeats the column 'name'", self.last_run()["error"])

    def test_header_names_are_trimmed_and_extra_columns_ignored(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_file("people.csv", " id , name,email ,notes\nP1,Ann,ann@example.com,hi\n")
        out, _ = self.sync("t")
        self.assertIn("1 created", out)
        self.assertEqual(self.table_rows("people"), [("P1", "Ann", "ann@example.com")])


class EmptySourceTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.write_csv("people.csv", HEADER, people_rows(3))

    def config(self, allow_empty):
        self.write_config({"t": sync_config("people.csv", on_missing="delete",
                                            allow_empty=allow_empty)})

    def assert_empty_source_handling(self, content, expected_error):
        self.config(False)
        self.sync("t")
        before = self.table_rows("people")
        self.assertEqual(len(before), 3)
        self.write_file("people.csv", content)
        # Refused by default: an empty export usually means something broke upstream.
        out, _ = self.sync("t", expect=1)
        self.assertIn(expected_error, out)
        run = self.last_run()
        self.assertEqual((run["status"], run["error_code"]), ("failed", "empty_source"))
        self.assertEqual(self.table_rows("people"), before)
        # Accepted with allow_empty, and on_missing: delete is never applied to it.
        self.config(True)
        out, _ = self.sync("t")
        self.assertIn("Processed 0 people: 0 created, 0 updated, 0 unchanged, 0 skipped, "
                      "0 failed, 0 deleted.", out)
        self.assertEqual(self.table_rows("people"), before)
        run = self.last_run()
        self.assertEqual((run["status"], run["deleted"]), ("succeeded", 0))
        self.assertIn("on_missing was not applied: the source is empty.", run["log_message"])
        self.assertEqual(self.changes(run["id"]), [])

    def test_empty_file_fails_unless_allow_empty_and_never_deletes(self):
        self.assert_empty_source_handling(b"", "is empty (not even a header row)")

    def test_header_only_file_fails_unless_allow_empty_and_never_deletes(self):
        self.assert_empty_source_handling(b"id,name,email\n",
                                          "the source has a header but no rows; if that can "
                                          "be right, set allow_empty: true")

    def test_blank_lines_only_count_as_empty(self):
        self.config(False)
        self.write_file("people.csv", b"id,name,email\n\n\n")
        out, _ = self.sync("t", expect=1)
        self.assertIn("has a header but no rows", out)
        self.assertFalse(self.table_exists("people"))


class BadRecordTest(ferrytest.FerryTestCase):
    """One bad record fails alone; the others are applied."""

    def sync_file(self, content, **source):
        self.write_config({"t": sync_config("people.csv", source=source)})
        self.write_file("people.csv", content)
        out, _ = self.sync("t")
        run = self.last_run()
        failed = [c for c in self.changes(run["id"]) if c["outcome"] == "failed"]
        return out, run, failed

    def test_ragged_row_fails_that_record_only(self):
        out, run, failed = self.sync_file(
            "id,name,email\nP1,Ann,ann@example.com\nP2,Bob\nP3,Cy,cy@example.com,extra\n"
            "P4,Di,di@example.com\n")
        self.assertIn("2 created, 0 updated, 0 unchanged, 0 skipped, 2 failed", out)
        self.assertEqual([r[0] for r in self.table_rows("people")], ["P1", "P4"])
        self.assertEqual([(c["row"], c["record_key"]) for c in failed], [(3, None), (4, None)])
        self.assertEqual(failed[0]["reason"],
                         "row 3: has 2 fields but the header has 3 (line 3)")
        self.assertEqual(failed[1]["reason"],
                         "row 4: has 4 fields but the header has 3 (line 4)")

    def test_error_after_a_multiline_record_names_its_row_and_physical_line(self):
        out, run, failed = self.sync_file(
            'id,name,email\nP1,"a\nb\nc",ann@example.com\nP2,Bob\n')
        self.assertEqual(self.query("SELECT name FROM people"), [("a\nb\nc",)])
        self.assertEqual([c["reason"] for c in failed],
                         ["row 3: has 2 fields but the header has 3 (line 5)"])

    def test_field_over_max_field_bytes_fails_naming_the_line(self):
        long_name = "x" * 65
        out, run, failed = self.sync_file(
            "id,name,email\nP1,Ann,ann@example.com\nP2,%s,bob@example.com\n"
            "P3,%s,cy@example.com\n" % (long_name, "y" * 64),
            max_field_bytes="64")
        self.assertIn("2 created", out)
        self.assertIn("1 failed", out)
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["reason"],
                         "row 3: column 'name' is larger than the limit of 64 bytes (line 3)")
        self.assertEqual(self.query("SELECT length(name) FROM people WHERE id='P3'"), [(64,)])

    def test_invalid_utf8_and_nul_byte_fail_their_records(self):
        out, run, failed = self.sync_file(
            b"id,name,email\nP1,Ann,ann@example.com\nP2,B\xffb,bob@example.com\n"
            b"P3,C\x00y,cy@example.com\nP4,D\xc3\xa9d\xc3\xa9,di@example.com\n")
        self.assertIn("2 created", out)
        self.assertIn("2 failed", out)
        self.assertEqual([c["reason"] for c in failed], [
            "row 3: column 'name' is not valid UTF-8 (line 3, byte offset 41)",
            "row 4: column 'name' contains a NUL byte (line 4, byte offset 64)",
        ])
        # Valid multi-byte UTF-8 is stored as it is.
        self.assertEqual(self.query("SELECT name FROM people WHERE id='P4'"), [("D\u00e9d\u00e9",)])
        self.assertEqual(self.query("SELECT count(*) FROM people WHERE id IN ('P2','P3')"),
                         [(0,)])

    def test_quote_open_at_the_end_fails_the_run_as_cut_off(self):
        # The input ends inside a quoted field: it was cut, so nothing is applied.
        self.write_config({"t": sync_config("people.csv")})
        self.write_file("people.csv",
                        'id,name,email\nP1,Ann,ann@example.com\nP2,"Bob,bob@example.com\n')
        out, _ = self.sync("t", expect=1)
        self.assertIn("looks cut off: it ends inside a quoted field of its last record "
                      "(row 3, line 3)", out)
        self.assertIn("Nothing was changed.", out)
        self.assertFalse(self.table_exists("people"))
        self.assertEqual(self.last_run()["status"], "failed")

    def test_text_after_a_closing_quote_fails_that_record(self):
        out, run, failed = self.sync_file(
            'id,name,email\nP1,Ann,ann@example.com\n4,"d"junk,x@example.com\n')
        self.assertIn("1 created", out)
        self.assertEqual([c["reason"] for c in failed],
                         ["row 3: column 'name' has text after its closing quote (line 3)"])
        self.assertEqual([r[0] for r in self.table_rows("people")], ["P1"])

    def test_utf16_file_fails_the_run_naming_the_encoding(self):
        self.write_config({"t": sync_config("people.csv")})
        text = "id,name,email\r\nP1,Ann,ann@example.com\r\n"
        for data, form in [(b"\xff\xfe" + text.encode("utf-16-le"),
                            "UTF-16 LE with a byte order mark"),
                           (text.encode("utf-16-be"), "UTF-16 BE without a byte order mark")]:
            self.write_file("people.csv", data)
            out, _ = self.sync("t", expect=1)
            self.assertIn("people.csv: the input is %s, not UTF-8: export or save it as CSV "
                          "in UTF-8" % form, out)
            self.assertNotIn("NUL", out)
            self.assertFalse(self.table_exists("people"))


class GoodInputTest(ferrytest.FerryTestCase):
    def test_quoted_newlines_commas_and_quotes_land_verbatim(self):
        self.write_config({"t": sync_config("people.csv", fields={
            "id": {}, "name": {}, "note": {"trim": False}})})
        tricky = [
            ["P1", 'Joko "JJ" Susilo', "a, b, c"],
            ["P2", "two\nlines", "crlf\r\ninside"],
            ["P3", '""', " padded "],
            ["P4", "\u00c5ngstr\u00f6m \u6771\u4eac \U0001F600", ""],
        ]
        self.write_file("people.csv", csv_text(["id", "name", "note"], tricky))
        out, _ = self.sync("t")
        self.assertIn("4 created", out)
        rows = {r[0]: (r[1], r[2]) for r in self.table_rows("people")}
        self.assertEqual(rows["P1"], ('Joko "JJ" Susilo', "a, b, c"))
        self.assertEqual(rows["P2"], ("two\nlines", "crlf\r\ninside"))
        self.assertEqual(rows["P3"], ('""', " padded "))
        self.assertEqual(rows["P4"], ("\u00c5ngstr\u00f6m \u6771\u4eac \U0001F600", None))

    def test_bom_and_crlf_are_handled(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_file("people.csv", "\ufeffid,name,email\r\nP1,Ann,ann@example.com\r\n"
                        "P2,Bob,bob@example.com\r\n".encode("utf-8"))
        out, _ = self.sync("t")
        self.assertIn("2 created, 0 updated, 0 unchanged, 0 skipped, 0 failed", out)
        self.assertEqual(self.table_rows("people"), [
            ("P1", "Ann", "ann@example.com"), ("P2", "Bob", "bob@example.com")])
        # The same data with LF endings and no BOM is unchanged.
        self.write_csv("people.csv", HEADER, [["P1", "Ann", "ann@example.com"],
                                              ["P2", "Bob", "bob@example.com"]])
        out, _ = self.sync("t")
        self.assertIn("0 created, 0 updated, 2 unchanged", out)

    def test_other_delimiter(self):
        self.write_config({"t": sync_config("people.csv", source={"delimiter": ";"})})
        self.write_file("people.csv", "id;name;email\nP1;Smith, Ann;ann@example.com\n")
        self.sync("t")
        self.assertEqual(self.table_rows("people"), [("P1", "Smith, Ann", "ann@example.com")])


class SourceLocationTest(ferrytest.FerryTestCase):
    def test_relative_path_resolves_against_the_config_directory(self):
        self.write_config({"t": sync_config("data/people.csv")})
        self.write_csv("data/people.csv", HEADER, people_rows(2))
        # Started from another directory with --config: the path still resolves.
        code, out, err = self.run_ferry("sync", "t", "--config", self.config_path, cwd="/")
        self.assertEqual(code, 0, out + err)
        self.assertIn("2 created", out)
        self.assertEqual(len(self.table_rows("people")), 2)

    def test_file_url_works(self):
        csv_path = self.write_csv("sub dir/people.csv", HEADER, people_rows(3))
        url = "file://" + csv_path.replace(" ", "%20")
        self.write_config({"t": sync_config(url)})
        out, _ = self.sync("t")
        self.assertIn("3 created", out)

    def test_missing_file_fails_naming_the_path(self):
        self.write_config({"t": sync_config("nosuch.csv")})
        out, _ = self.sync("t", expect=1)
        self.assertIn("cannot open the source file ./nosuch.csv: No such file or directory", out)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        self.assertIn("./nosuch.csv: No such file or directory", run["error"])
        self.assertFalse(self.table_exists("people"))
        # With the config given by its absolute path, the message has the absolute path.
        code, out, _ = self.run_ferry("sync", "t", "-c", self.config_path)
        self.assertEqual(code, 1)
        self.assertIn("cannot open the source file %s: No such file or directory"
                      % self.path("nosuch.csv"), out)

    def test_missing_file_url_and_directory_fail_readably(self):
        self.write_config({"t": sync_config("file://" + self.path("gone.csv"))})
        out, _ = self.sync("t", expect=1)
        self.assertIn(self.path("gone.csv"), out)
        os.mkdir(self.path("adir"))
        self.write_config({"t": sync_config("adir")})
        out, _ = self.sync("t", expect=1)
        self.assertIn("is a directory", out)


if __name__ == "__main__":
    ferrytest.main()
