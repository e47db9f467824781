"""Transforms: what a sheet's cells become before they are typed (docs/config.md, "Transforms").

A staff sheet synced into an application's tables (surrogate ids, a unique natural key, a real
foreign key to brands), on SQLite and, as pgsuite/test_transforms, on PostgreSQL, with every
transform: a constant (value), a name built from two columns (template) in title case, a
default for an empty cell, a value map whose unlisted values fail (otherwise: fail), e-mail
addresses in lower case, dates written 31/12/2024 and amounts written 4.500.000,50 (format),
and a brand named in the sheet mapped to its code and then looked up (transforms come before
the look-up). The table holds exactly the transformed values, the records a rule refuses fail
with reasons naming the row, the field and the rule, and a second run of the same sheet
changes nothing. A template naming a column the sheet lacks is refused by `ferry check`, with
the file, line and key, and by a run, before anything is written. A REST source's template
reads JSON pointers, which `ferry check NAME` counts as mapped, or lists as missing.
"""

import json

import ferrytest
from ferrytest import ON_POSTGRES

TABLES = {
    "sqlite": """
        CREATE TABLE brands (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          code varchar NOT NULL,
          name varchar);
        CREATE UNIQUE INDEX index_brands_on_code ON brands (code);
        CREATE TABLE staff (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          employee_id varchar NOT NULL,
          name varchar NOT NULL,
          country varchar NOT NULL,
          employment varchar,
          hired_on date,
          salary decimal(14,2),
          email varchar,
          brand_id integer REFERENCES brands (id));
        CREATE UNIQUE INDEX index_staff_on_employee_id ON staff (employee_id);
        INSERT INTO brands (code, name) VALUES ('BR-1', 'Sunrise'), ('BR-2', 'Harbour');
    """,
    "postgres": """
        CREATE TABLE brands (
          id bigserial PRIMARY KEY,
          code character varying NOT NULL,
          name character varying);
        CREATE UNIQUE INDEX index_brands_on_code ON brands USING btree (code);
        CREATE TABLE staff (
          id bigserial PRIMARY KEY,
          employee_id character varying NOT NULL,
          name character varying NOT NULL,
          country character varying NOT NULL,
          employment character varying,
          hired_on date,
          salary numeric(14,2),
          email character varying,
          brand_id bigint REFERENCES brands (id));
        CREATE UNIQUE INDEX index_staff_on_employee_id ON staff USING btree (employee_id);
        INSERT INTO brands (code, name) VALUES ('BR-1', 'Sunrise'), ('BR-2', 'Harbour');
    """,
}

CONFIG = """\
syncs:
  staff:
    source: { url: staff.csv }
    target: { table: staff, key: employee_id }
    fields:
      employee_id: { column: Employee ID }
      name:
        template: "{First Name} {Last Name}"
        case: title
        required: true
      country: { value: ID }
      employment:
        column: Type
        default: Full Time
        map: { Full Time: Karyawan, Part Time: Freelance }
        otherwise: fail
      hired_on: { column: Hired, type: date, format: "%d/%m/%Y" }
      salary: { column: Salary, type: decimal, format: "1.234,50" }
      email: { column: Email, type: email, case: lower }
      brand_id:
        column: Brand
        type: integer
        map: { Sunrise: BR-1, Harbour: BR-2 }
        lookup: { table: brands, match: code }
"""

HEADER = ["Employee ID", "First Name", "Last Name", "Type", "Hired", "Salary", "Email", "Brand"]
ROWS = [
    ["E1", " ayu ", "PUTRI", "Full Time", "31/12/2024", "4.500.000,50", "AYU@Example.COM",
     "Sunrise"],
    ["E2", "budi", "santoso", "Part Time", "1/2/2023", "450.000", "budi@example.com", "BR-2"],
    ["E3", "citra", "", "", "15/06/2022", "1.000,5", "", "Harbour"],
    ["E4", "dewi", "lestari", "Contractor", "01/01/2024", "1.000", "dewi@example.com", "BR-1"],
    ["E5", "eko", "prasetyo", "Full Time", "2024-12-31", "1.000", "eko@example.com", "BR-1"],
    ["E6", "fajar", "nugroho", "Full Time", "01/01/2024", "1.5", "fajar@example.com", "BR-1"],
]

EXPECTED = [
    ("E1", "Ayu Putri", "ID", "Karyawan", "2024-12-31", 450000050, "ayu@example.com", "BR-1"),
    ("E2", "Budi Santoso", "ID", "Freelance", "2023-02-01", 45000000, "budi@example.com", "BR-2"),
    ("E3", "Citra", "ID", "Karyawan", "2022-06-15", 100050, None, "BR-2"),
]

FAILED = [
    ("E4", "row 5: employment 'Contractor' is not in map (otherwise: fail)"),
    ("E5", "row 6: hired_on '2024-12-31' does not match format '%d/%m/%Y'"),
    ("E6", "row 7: salary '1.5' does not match format '1.234,50'"),
]


class TransformsTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.exec_script(TABLES["postgres" if ON_POSTGRES else "sqlite"])

    def staff(self):
        """The table's rows, the same on both backends: dates as text, amounts in cents."""
        return [tuple(r) for r in self.query(
            "SELECT s.employee_id, s.name, s.country, s.employment,"
            " CAST(s.hired_on AS text), CAST(round(s.salary * 100) AS integer), s.email, b.code"
            " FROM staff s LEFT JOIN brands b ON b.id = s.brand_id ORDER BY s.employee_id")]

    def test_every_transform_lands_in_the_applications_table(self):
        self.write_config(CONFIG)
        self.write_csv("staff.csv", HEADER, ROWS)
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 0, out + err)
        code, out, _ = self.run_ferry("sync", "staff")
        self.assertEqual(code, 0, out)
        self.assertIn("Processed 6 staff: 3 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 3 failed.", out)
        self.assertEqual(self.staff(), EXPECTED)
        run = self.last_run()
        failed = [(c["record_key"], c["reason"]) for c in self.changes(run["id"])
                  if c["outcome"] == "failed"]
        self.assertEqual(failed, FAILED)

        # The same sheet again: the transformed values are the stored ones, nothing changes.
        self.sync("staff")
        run = self.last_run()
        self.assertEqual((run["created"], run["updated"], run["unchanged"], run["failed"]),
                         (0, 0, 3, 3))

        # A cell changed in the sheet's notation is an update of the typed value.
        rows = [r[:] for r in ROWS]
        rows[1][5] = "450.000,25"
        self.write_csv("staff.csv", HEADER, rows)
        self.sync("staff")
        run = self.last_run()
        self.assertEqual((run["updated"], run["unchanged"]), (1, 2))
        updated = [c for c in self.changes(run["id"]) if c["outcome"] == "updated"]
        self.assertEqual([c["record_key"] for c in updated], ["E2"])
        self.assertIn('"salary"', updated[0]["diff"])

    def test_a_template_naming_a_missing_column_is_refused_with_file_line_and_key(self):
        self.write_config(CONFIG)
        self.write_csv("staff.csv", [h for h in HEADER if h != "Last Name"],
                       [r[:2] + r[3:] for r in ROWS])
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 2, out + err)
        self.assertRegex(err, r"ferry: ferry\.yaml: sync staff: line 8: "
                              r"syncs\.staff\.fields\.name\.template: \{Last Name\} names a "
                              r"column the source \S*staff\.csv does not have \(its header has "
                              r"'Employee ID', 'First Name', 'Type',")
        # ferry check NAME lists it with the fields' missing columns.
        code, out, err = self.run_ferry("check", "staff")
        self.assertEqual(code, 1, out + err)
        self.assertIn("missing: name (template column 'Last Name')", out)
        # A run refuses it at the header, changing nothing.
        code, out, _ = self.run_ferry("sync", "staff")
        self.assertEqual(code, 1, out)
        self.assertIn("syncs.staff.fields.name.template: {Last Name} names a column", out)
        self.assertEqual(self.query("SELECT count(*) FROM staff"), [(0,)])

    def test_a_rest_template_reads_json_pointers(self):
        up = ferrytest.LoopbackServer()
        self.addCleanup(up.stop)
        records = [{"code": "P1", "name": {"first": "ayu", "last": "putri"}, "status": "A"},
                   {"code": "P2", "name": {"first": "budi"}, "status": "X"}]
        up.route("/people", body=json.dumps({"people": records}).encode(),
                 headers={"Content-Type": "application/json"})
        self.write_config(
            "allow_private: true\n"
            "syncs:\n"
            "  people:\n"
            "    source: { kind: rest, url: '%s', records: /people }\n"
            "    target: { table: people, key: code }\n"
            "    fields:\n"
            "      code: {}\n"
            "      name: { template: '{/name/first} {/name/last} ({code})', case: title }\n"
            "      status: { map: { A: active }, otherwise: inactive }\n"
            "      alias: { template: '{/alias}' }\n"
            % up.url("/people"))
        self.sync("people")
        self.assertEqual([tuple(r) for r in self.query(
            "SELECT code, name, status, alias FROM people ORDER BY code")],
            [("P1", "Ayu Putri (P1)", "active", None), ("P2", "Budi (P2)", "inactive", None)])
        # ferry check NAME: the members templates read count as mapped; one no record has is
        # missing.
        code, out, err = self.run_ferry("check", "people")
        self.assertEqual(code, 1, out + err)
        self.assertNotIn("not mapped", out)
        self.assertIn("missing: alias (template /alias)", out)


if __name__ == "__main__":
    ferrytest.main()
