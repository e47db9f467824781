"""ferry init: a starting config written from a source, then loaded with `ferry check` and run
with `ferry sync` against the same source.

Sources: a CSV file in the test's directory and outside it, a CSV URL (the loopback server),
a Google Sheets share link (the loopback server stands in for Google: the link keeps its
host), and a REST URL with bearer auth (fake_json_api). Then what init refuses:
an existing output file without --force, and sources it cannot use.
"""

import os
import re

import ferrytest
from fake_json_api import Fake

TOKEN = "init-test-token-0123456789"

CSV_HEADER = ["Employee ID", "Name", "E-mail", "Age", "Salary", "Active", "Start Date",
              "Note"]
CSV_ROWS = [
    ["E1", "Ann", "ann@example.com", "31", "1200.50", "yes", "2024-01-02", ""],
    ["E2", "Bob", "bob@example.com", "45", "900", "no", "2023-05-06", "hi"],
    ["E3", "Cy", "cy@example.com", "52", "1000", "yes", "2022-12-31", ""],
    ["E4", "Di", "di@example.com", "n/a", "1000.25", "no", "2021-07-08", "x"],
]


def issue(i):
    return {"id": i, "key": "OPS-%d" % i,
            "fields": {"summary": "Issue %d" % i, "labels": ["a", "b"][: i % 3],
                       "points": i * 0.5, "done": i % 2 == 0},
            "created": "2024-01-%02dT10:00:00Z" % i,
            "assignee": None if i % 2 else "p%d@example.com" % i,
            "subtasks": [{"id": 1}]}


class InitTestCase(ferrytest.FerryTestCase):
    def init(self, *args, env=None):
        return self.run_ferry("init", *args, env=env)

    def adopt(self, name="ferry.yaml"):
        """Rewrites the written config through write_file(), so on PostgreSQL it names the
        test's database, and returns its text."""
        with open(self.path(name), encoding="utf-8") as f:
            text = f.read()
        self.write_file(name, text)
        return text

    def check_and_sync(self, name, env=None):
        code, out, err = self.run_ferry("check", name, env=env)
        self.assertEqual(code, 0, out + err)
        code, out, err = self.run_ferry("sync", name, env=env)
        self.assertEqual(code, 0, out + err)
        self.assertIn("0 failed", out)
        return out

    def column_types(self, table):
        if ferrytest.ON_POSTGRES:
            return dict(self.query("SELECT column_name, data_type FROM information_schema.columns"
                                   " WHERE table_name = ?", (table,)))
        return {r[1]: r[2] for r in self.query("SELECT * FROM pragma_table_info(?)", (table,))}


class CsvFileTest(InitTestCase):
    def test_csv_file_config_loads_and_syncs_with_guessed_types(self):
        self.write_csv("staff list.csv", CSV_HEADER, CSV_ROWS)
        code, out, err = self.init("staff list.csv", "--output", "ferry.yaml")
        self.assertEqual(code, 0, err)
        self.assertEqual(out, "")
        text = self.adopt()
        self.assertIn('table: staff_list', text)
        self.assertIn("key: [employee_id]   # key: unique and non-empty in 4 rows (guessed)",
                      text)
        self.assertIn('e_mail: { column: "E-mail", type: email, required: true }', text)
        self.assertIn("# guessed email: all 4 values", text)
        self.assertRegex(text, r'age: \{ column: "Age", required: true \}\n')  # "n/a": text
        self.assertIn('salary: { column: "Salary", type: decimal, required: true }', text)
        self.assertIn('active: { column: "Active", type: boolean, required: true }', text)
        self.assertIn('start_date: { column: "Start Date", type: date, required: true }', text)
        self.assertRegex(text, r'note: \{ column: "Note" \}\n')  # empty in two rows
        self.assertNotIn("allow_hosts", text)
        self.assertNotIn("files_dir", text)

        self.check_and_sync("staff_list")
        rows = self.table_rows("staff_list", order_by="employee_id")
        self.assertEqual([r[0] for r in rows], ["E1", "E2", "E3", "E4"])
        self.assertEqual([str(r[3]) for r in rows], ["31", "45", "52", "n/a"])
        types = self.column_types("staff_list")
        if ferrytest.ON_POSTGRES:
            self.assertEqual(types["salary"], "numeric")
            self.assertEqual(types["active"], "boolean")
            self.assertEqual(types["start_date"], "date")
            self.assertEqual(types["age"], "text")
        else:
            self.assertEqual(types["active"], "BOOLEAN")
            self.assertEqual(types["age"], "TEXT")
        self.assertEqual([bool(r[5]) for r in rows], [True, False, True, False])

    def test_name_and_table_options_and_a_file_outside_the_config_directory(self):
        self.write_csv("data/rooms.csv", ["Room", "Floor"], [["A", "1"], ["B", "2"]])
        os.makedirs(self.path("conf"))
        code, out, err = self.init(self.path("data/rooms.csv"), "--name", "my-rooms",
                                   "--table", "Rooms_T", "--output", "conf/ferry.yaml")
        self.assertEqual(code, 0, err)
        text = self.adopt("conf/ferry.yaml")
        self.assertIn("files_dir: \"%s\"" % os.path.realpath(self.path("data")), text)
        self.assertIn("  my-rooms:\n", text)
        self.assertIn("table: Rooms_T", text)
        code, out, err = self.run_ferry("check", "my-rooms", "--config", "conf/ferry.yaml")
        self.assertEqual(code, 0, out + err)
        code, out, err = self.run_ferry("sync", "my-rooms", "--config", "conf/ferry.yaml")
        self.assertEqual(code, 0, out + err)
        if not ferrytest.ON_POSTGRES:
            self.db_path = self.path("conf/ferry.db")
        self.assertEqual(self.table_rows("Rooms_T", order_by="room"), [("A", 1), ("B", 2)])

    def test_a_table_name_in_capitals_gives_a_lower_case_sync_name(self):
        self.write_csv("a.csv", ["id"], [["1"]])
        code, out, err = self.init("a.csv", "--table", "Staff")
        self.assertEqual(code, 0, err)
        self.assertIn("\n  staff:\n", out)
        self.assertIn("table: Staff", out)

    def test_stdout_without_output_and_no_unique_column(self):
        self.write_csv("teams.csv", ["Team", "Size"], [["x", "1"], ["x", "1"]])
        code, out, err = self.init("teams.csv")
        self.assertEqual(code, 0, err)
        self.assertIn("key: [team]   # no unique column: pick a key", out)
        self.assertIn("size: { column: \"Size\", type: integer, required: true }", out)
        self.assertFalse(os.path.exists(self.config_path))

    def test_repeated_header_is_reported_and_not_mapped_twice(self):
        self.write_csv("dup.csv", ["id", "Email", "Email"], [["1", "a@x.org", "b@x.org"]])
        code, out, err = self.init("dup.csv")
        self.assertEqual(code, 0, err)
        self.assertIn("the header repeats the column 'Email' (columns 2 and 3)", err)
        self.assertIn("# the header repeats the column 'Email'", out)
        self.assertEqual(out.count('column: "Email"'), 1)


class CsvUrlTest(InitTestCase):
    def test_csv_url_gets_allow_hosts_and_syncs(self):
        url = self.server.route("/exports/people.csv",
                                body=ferrytest.csv_text(["id", "Name", "Joined"],
                                                        [["1", "Ann", "2024-01-02T10:00:00Z"],
                                                         ["2", "Bob", "2024-01-03T11:00:00Z"]]))
        code, out, err = self.init(url + "?format=csv", "-o", "ferry.yaml")
        self.assertEqual(code, 0, err)
        text = self.adopt()
        self.assertIn('allow_hosts: ["127.0.0.1"]', text)
        self.assertIn("table: people", text)
        self.assertNotIn("format=csv", err)  # the query is not shown
        self.assertIn("id: { type: integer, required: true }", text)
        self.assertIn("type: datetime", text)
        self.check_and_sync("people")
        self.assertEqual([r[:2] for r in self.table_rows("people", order_by="id")],
                         [(1, "Ann"), (2, "Bob")])

    def test_sheet_share_link_reads_the_tabs_export(self):
        self.server.route("/spreadsheets/d/SHEET1/export", body="Code,Qty\nA,1\nB,2\n")
        code, out, err = self.init(self.server.url("/spreadsheets/d/SHEET1/edit#gid=5"))
        self.assertEqual(code, 0, err)
        export = self.server.url("/spreadsheets/d/SHEET1/export?format=csv&gid=5")
        self.assertIn('url: "%s"' % export, out)
        self.assertIn("table: sheet", out)
        self.assertIn('qty: { column: "Qty", type: integer, required: true }', out)
        self.assertEqual(self.server.requests[-1]["path"],
                         "/spreadsheets/d/SHEET1/export?format=csv&gid=5")

    def test_json_is_told_by_its_first_byte_when_the_type_does_not_say(self):
        url = self.server.route("/data", body='  {"n": 2, "rows": [{"id": "a"}, {"id": "b"}]}',
                                headers={"Content-Type": "application/octet-stream"})
        code, out, err = self.init(url)
        self.assertEqual(code, 0, err)
        self.assertIn("kind: rest", out)
        self.assertIn('records: "/rows"', out)
        self.assertIn("key: [id]", out)

    def test_csv_url_redirect_is_followed(self):
        self.server.route("/real.csv", body="code,n\nA,1\nB,2\n")
        url = self.server.route("/moved.csv", redirect="/real.csv")
        code, out, err = self.init(url)
        self.assertEqual(code, 0, err)
        self.assertIn("key: [code]", out)


class RestTest(InitTestCase):
    def answer(self, handler, route, query):
        if handler.headers.get("Authorization") != "Bearer " + TOKEN:
            return 401, [], {"error": "no"}
        return 200, [], {"total": 5, "names": ["x"], "issues": [issue(i) for i in range(1, 6)]}

    def start(self):
        fake = Fake(self.answer)
        self.addCleanup(fake.close)
        return fake

    def test_rest_url_with_bearer_env_syncs_flattened_records(self):
        fake = self.start()
        env = {"INIT_TOKEN": TOKEN}
        code, out, err = self.init(fake.base_url + "/api/issues", "--bearer-env", "INIT_TOKEN",
                                   "--output", "ferry.yaml", env=env)
        self.assertEqual(code, 0, err)
        text = self.adopt()
        self.assertNotIn(TOKEN, text + out + err)
        self.assertIn("kind: rest", text)
        self.assertIn('records: "/issues"', text)
        self.assertIn('auth: { type: bearer, token_env: "INIT_TOKEN" }', text)
        self.assertIn('allow_hosts: ["127.0.0.1"]', text)
        self.assertIn("key: [id]", text)
        self.assertIn("id: { type: integer, required: true }", text)
        self.assertIn('fields_summary: { pointer: "/fields/summary", required: true }', text)
        self.assertIn('fields_points: { pointer: "/fields/points", type: decimal', text)
        self.assertIn('fields_done: { pointer: "/fields/done", type: boolean', text)
        self.assertIn("created: { type: datetime, required: true }", text)
        self.assertRegex(text, r"assignee: \{ type: email \}")
        self.assertNotIn("subtasks", text)  # an array of objects is no column
        self.check_and_sync("issues", env=env)
        rows = self.query_dicts('SELECT * FROM issues ORDER BY id')
        self.assertEqual([r["key"] for r in rows], ["OPS-%d" % i for i in range(1, 6)])
        self.assertEqual(rows[0]["fields_labels"], "a")
        self.assertEqual(rows[2]["fields_labels"], None)
        self.assertEqual(rows[1]["fields_labels"], "a, b")
        self.assertEqual(rows[1]["assignee"], "p2@example.com")

    def test_basic_and_header_auth_are_referenced_by_variable(self):
        seen = []

        def answer(handler, route, query):
            seen.append((handler.headers.get("Authorization"), handler.headers.get("X-Api-Key")))
            return 200, [], [{"code": "A", "n": 1}, {"code": "B", "n": 2}]
        fake = Fake(answer)
        self.addCleanup(fake.close)
        env = {"INIT_PW": "pw-secret-1", "INIT_KEY": "key-secret-2"}
        code, out, err = self.init(fake.base_url + "/things", "--basic-user", "me",
                                   "--password-env", "INIT_PW", env=env)
        self.assertEqual(code, 0, err)
        self.assertIn('auth: { type: basic, user: "me", password_env: "INIT_PW" }', out)
        self.assertIn('records: ""', out)
        self.assertIn("key: [code]", out)
        self.assertEqual(seen[-1][0], "Basic bWU6cHctc2VjcmV0LTE=")  # me:pw-secret-1
        code, out, err = self.init(fake.base_url + "/things", "--header", "X-Api-Key",
                                   "--header-env", "INIT_KEY", "-o", "ferry.yaml", env=env)
        self.assertEqual(code, 0, err)
        text = self.adopt()
        self.assertIn('auth: { type: header, header: "X-Api-Key", key_env: "INIT_KEY" }', text)
        self.assertEqual(seen[-1][1], "key-secret-2")
        self.assertNotIn("secret", text + out + err)
        self.check_and_sync("things", env=env)
        self.assertEqual(self.table_rows("things", order_by="code"), [("A", 1), ("B", 2)])

    def test_rest_credentials_missing_or_rejected(self):
        fake = self.start()
        url = fake.base_url + "/api/issues"
        code, out, err = self.init(url, "--bearer-env", "INIT_TOKEN", env={"INIT_TOKEN": None})
        self.assertEqual(code, 1)
        self.assertIn("the environment variable INIT_TOKEN is not set", err)
        code, out, err = self.init(url, "--bearer-env", "INIT_TOKEN",
                                   env={"INIT_TOKEN": "wrong-secret-value"})
        self.assertEqual(code, 1)
        self.assertIn("credentials rejected (HTTP 401)", err)
        self.assertNotIn("wrong-secret-value", err)
        self.assertEqual(out, "")


class RefusalTest(InitTestCase):
    def test_existing_output_is_kept_without_force(self):
        self.write_csv("a.csv", ["id"], [["1"]])
        with open(self.config_path, "w") as f:  # as it is, on either backend
            f.write("# mine\n")
        code, out, err = self.init("a.csv", "--output", "ferry.yaml")
        self.assertEqual(code, 2)
        self.assertIn("ferry.yaml already exists: give --force to replace it", err)
        with open(self.config_path) as f:
            self.assertEqual(f.read(), "# mine\n")
        code, out, err = self.init("a.csv", "--output", "ferry.yaml", "--force")
        self.assertEqual(code, 0, err)
        with open(self.config_path) as f:
            self.assertIn("table: a", f.read())

    def test_bad_sources_name_the_source_and_the_problem(self):
        self.write_file("empty.csv", "")
        self.write_file("header.csv", "id,name\n")
        cases = [
            ("missing.csv", "missing.csv: cannot open it: No such file or directory"),
            ("empty.csv", "empty.csv: it is empty"),
            ("header.csv", "header.csv: it has a header but no records"),
            (self.server.route("/page", body="<html>sign in</html>",
                               headers={"Content-Type": "text/html"}),
             "/page: it answered an HTML page"),
            (self.server.route("/gone.csv", status=404, body="nope"), "/gone.csv"),
            (self.server.route("/obj", body='{"a": 1, "b": [1, 2]}',
                               headers={"Content-Type": "application/json"}),
             "/obj: the answer holds no records"),
            (self.server.route("/none", body='{"items": []}',
                               headers={"Content-Type": "application/json"}),
             "/none: the answer holds no records"),
            (self.server.route("/bad", body='{"items": [',
                               headers={"Content-Type": "application/json"}),
             "/bad: the answer is not JSON"),
            ("http://127.0.0.1:%d/x.csv" % ferrytest.closed_port(), "/x.csv"),
        ]
        for source, want in cases:
            with self.subTest(source=source):
                code, out, err = self.init(source, "--output", "out.yaml")
                self.assertEqual(code, 1, err)
                self.assertIn(want, err)
                self.assertTrue(err.startswith("ferry: init: "), err)
                self.assertFalse(os.path.exists(self.path("out.yaml")))

    def test_usage_errors(self):
        for args in (["a.csv", "--basic-user", "u"], ["a.csv", "--table", "ferry_x"],
                     ["a.csv", "--name", "Bad Name"], ["http://x.test/", "--header",
                                                       "X-Key: 1\r\nX", "--header-env", "V"],
                     ["a.csv", "--bearer-env", "V", "--header", "X", "--header-env", "W"], []):
            with self.subTest(args=args):
                code, out, err = self.init(*args)
                self.assertEqual(code, 2, err)


if __name__ == "__main__":
    ferrytest.main()
