"""Steps: one run syncs related tables in order, in one transaction.

Into an application's tables (surrogate ids, unique natural keys, a real foreign key from
packages to brands), on SQLite and, as pgsuite/test_steps, on PostgreSQL: the brands step
writes a new brand that the packages step then looks up in the same run; the run's message
has one sentence per step, joined; the run keeps per-step counts (the store's steps column,
the API's run JSON) and tags change rows with their step (the store, the API's change JSON,
ferry show); a failing second step leaves the first step's table as it was; two steps read
one download of a shared sheet; ferry check refuses what cannot work, naming the file, line
and key.
"""

import json
import os
import re

import ferrytest
from ferrytest import ON_POSTGRES

TABLES = {
    "sqlite": """
        CREATE TABLE brands (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          code varchar NOT NULL,
          name varchar);
        CREATE UNIQUE INDEX index_brands_on_code ON brands (code);
        CREATE TABLE packages (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          code varchar NOT NULL,
          name varchar,
          brand_id integer NOT NULL REFERENCES brands (id));
        CREATE UNIQUE INDEX index_packages_on_code ON packages (code);
        INSERT INTO brands (code, name) VALUES ('BR-1', 'Sunrise');
    """,
    "postgres": """
        CREATE TABLE brands (
          id bigserial PRIMARY KEY,
          code character varying NOT NULL,
          name character varying);
        CREATE UNIQUE INDEX index_brands_on_code ON brands USING btree (code);
        CREATE TABLE packages (
          id bigserial PRIMARY KEY,
          code character varying NOT NULL,
          name character varying,
          brand_id bigint NOT NULL REFERENCES brands (id));
        CREATE UNIQUE INDEX index_packages_on_code ON packages USING btree (code);
        INSERT INTO brands (code, name) VALUES ('BR-1', 'Sunrise');
    """,
}

BRANDS = [["BR-1", "Sunrise"], ["BR-2", "Harbour"], ["BR-3", "Meadow"]]
PACKAGES = [["P1", "Basic", "BR-1"], ["P2", "Gold", "BR-2"], ["P3", "Field", "BR-3"],
            ["P4", "Lost", "BR-9"]]


def catalog_sync(packages_source=None, brands_extra=None):
    brands = {"source": {"url": "brands.csv"},
              "target": {"table": "brands", "key": "code"},
              "fields": {"code": {"column": "Code"}, "name": {"column": "Name"}}}
    brands.update(brands_extra or {})
    packages = {"source": packages_source or {"url": "packages.csv"},
                "target": {"table": "packages", "key": "code"},
                "fields": {"code": {"column": "Code"}, "name": {"column": "Name"},
                           "brand_id": {"column": "Brand", "type": "integer",
                                        "lookup": {"table": "brands", "match": "code"}}}}
    return {"title": "Brands & Packages", "steps": {"brands": brands, "packages": packages}}


class StepsTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.exec_script(TABLES["postgres" if ON_POSTGRES else "sqlite"])
        self.write_csv("brands.csv", ["Code", "Name"], BRANDS)
        self.write_csv("packages.csv", ["Code", "Name", "Brand"], PACKAGES)

    def packages(self):
        return [tuple(r) for r in self.query(
            "SELECT p.code AS package, p.name AS name, b.code AS brand FROM packages p"
            " JOIN brands b ON b.id = p.brand_id"
            " ORDER BY p.code")]

    def test_a_run_syncs_brands_then_packages_that_look_up_the_new_brands(self):
        self.write_config({"catalog": catalog_sync()})
        code, out, err = self.run_ferry("sync", "catalog")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Processed 3 brands: 2 created, 0 updated, 1 unchanged, 0 skipped,"
                      " 0 failed. Processed 4 packages: 3 created, 0 updated, 0 unchanged,"
                      " 0 skipped, 1 failed.", out)
        self.assertEqual(self.packages(), [("P1", "Basic", "BR-1"), ("P2", "Gold", "BR-2"),
                                           ("P3", "Field", "BR-3")])
        run = self.last_run()
        self.assertEqual((run["created"], run["unchanged"], run["failed"]), (5, 1, 1))
        steps = json.loads(run["steps"])
        self.assertEqual([(s["name"], s["noun"], s["status"], s["processed"],
                           s["counts"]["created"], s["counts"]["failed"]) for s in steps],
                         [("brands", "brands", "done", 3, 2, 0),
                          ("packages", "packages", "done", 4, 3, 1)])
        self.assertEqual(steps[1]["message"], "Processed 4 packages: 3 created, 0 updated,"
                         " 0 unchanged, 0 skipped, 1 failed.")
        changes = self.changes(run["id"])
        self.assertEqual([(c["step"], c["outcome"], c["record_key"]) for c in changes],
                         [("brands", "created", "BR-2"), ("brands", "created", "BR-3"),
                          ("packages", "created", "P1"), ("packages", "created", "P2"),
                          ("packages", "created", "P3"), ("packages", "failed", "P4")])
        self.assertIn("'BR-9' not found in brands.code", changes[-1]["reason"])

        code, out, _ = self.run_ferry("sync", "catalog")
        self.assertEqual(code, 0, out)
        self.assertIn("Processed 3 brands: 0 created, 0 updated, 3 unchanged, 0 skipped,"
                      " 0 failed. Processed 4 packages: 0 created, 0 updated, 3 unchanged,"
                      " 0 skipped, 1 failed.", out)

        code, out, _ = self.run_ferry("show", str(run["id"]))
        self.assertEqual(code, 0, out)
        self.assertIn("step 1:    brands: 2 created, 0 updated, 1 unchanged, 0 skipped,"
                      " 0 failed, 0 deleted (done)", out)
        self.assertIn("step 2:    packages: 3 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 1 failed, 0 deleted (done)", out)
        self.assertRegex(out, r"failed\s+packages\s+P4")

    def test_a_bad_header_in_the_second_steps_source_fails_the_run_before_any_step_writes(self):
        self.write_config({"catalog": catalog_sync()})
        before = self.table_rows("brands")
        # The packages export lost its Brand column: every source is opened (and its header
        # checked) before the first step writes.
        self.write_csv("packages.csv", ["Code", "Name"], [r[:2] for r in PACKAGES])
        code, out, err = self.run_ferry("sync", "catalog")
        self.assertEqual(code, 1, out + err)
        self.assertIn("Sync of Brands & Packages failed: step packages: the source", out)
        self.assertIn("Nothing was changed.", out)
        self.assertEqual(self.table_rows("brands"), before)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        self.assertEqual([s["status"] for s in json.loads(run["steps"])], ["pending", "failed"])
        self.assertEqual(self.changes(run["id"]), [])

    def test_a_constraint_failure_in_the_second_step_keeps_the_first_step_from_landing(self):
        # brand_id is NOT NULL: an optional look-up writing NULL fails that record at the
        # database; the guard's max_failed then holds the run, and step one lands no more
        # than step two: both wait for the review, their change rows tagged with their step.
        cfg = catalog_sync()
        pk = cfg["steps"]["packages"]
        pk["fields"]["brand_id"]["lookup"]["optional"] = True
        cfg["guard"] = {"max_failed": 0}
        self.write_config({"catalog": cfg})
        before = self.table_rows("brands")
        code, out, err = self.run_ferry("sync", "catalog")
        self.assertEqual(code, 3, out + err)
        self.assertIn("Held for review: 1 of 4 packages failed (25%), more than 0", out)
        self.assertEqual(self.table_rows("brands"), before)
        self.assertEqual(self.table_rows("packages"), [])
        run = self.last_run()
        self.assertEqual(run["status"], "held")
        changes = self.changes(run["id"])
        self.assertEqual(sorted({c["step"] for c in changes}), ["brands", "packages"])
        self.assertEqual([c["outcome"] for c in changes if c["step"] == "packages"].count("failed"),
                         1)
        # Approved, both steps land as reviewed, in one transaction, the failed record failing.
        code, out, err = self.run_ferry("approve", str(run["id"]))
        self.assertEqual(code, 0, out + err)
        self.assertNotEqual(self.table_rows("brands"), before)
        self.assertEqual(len(self.table_rows("packages")), 3)
        done = self.last_run()
        self.assertEqual((done["status"], done["failed"]), ("succeeded", 1))
        self.assertEqual(self.changes(run["id"]), changes)

    def test_the_api_shows_steps_and_tags_changes_with_their_step(self):
        self.write_config({"catalog": catalog_sync()})
        with self.serve() as srv:
            syncs = srv.get_json("/api/syncs")["syncs"]
            self.assertEqual([s["name"] for s in syncs[0]["steps"]], ["brands", "packages"])
            run = srv.run_to_end("catalog")
            self.assertEqual([(s["name"], s["counts"]["created"], s["counts"]["unchanged"])
                              for s in run["steps"]], [("brands", 2, 1), ("packages", 3, 0)])
            self.assertEqual(run["ui_message"],
                             "Processed 3 brands: 2 created, 0 updated, 1 unchanged, 0 skipped,"
                             " 0 failed. Processed 4 packages: 3 created, 0 updated, 0 unchanged,"
                             " 0 skipped, 1 failed.")
            changes = srv.get_json("/api/runs/%d/changes" % run["id"])["changes"]
            self.assertEqual([(c["step"], c["key"]) for c in changes],
                             [("brands", "BR-2"), ("brands", "BR-3"), ("packages", "P1"),
                              ("packages", "P2"), ("packages", "P3"), ("packages", "P4")])

    def test_two_steps_read_one_download_of_a_shared_sheet(self):
        sheet = ferrytest.csv_text(
            ["Therapist", "Name", "Day", "From"],
            [["T1", "Ann", "Mon", "09:00"], ["T2", "Bob", "Tue", "10:00"]])
        url = self.server.route("/sheet.csv", body=sheet)
        self.write_config({"staff": {"steps": {
            "therapists": {"source": {"url": url}, "target": {"table": "therapists",
                                                               "key": "code"},
                           "fields": {"code": {"column": "Therapist"},
                                      "name": {"column": "Name"}}},
            "schedules": {"source": "therapists",
                          "target": {"table": "schedules", "key": ["therapist", "day"]},
                          "fields": {"therapist": {"column": "Therapist"},
                                     "day": {"column": "Day"}, "starts": {"column": "From"}}},
        }}})
        code, out, err = self.run_ferry("sync", "staff")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Processed 2 therapists: 2 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 0 failed. Processed 2 schedules: 2 created", out)
        self.assertEqual(sorted(self.query("SELECT therapist, day, starts FROM schedules")),
                         [("T1", "Mon", "09:00"), ("T2", "Tue", "10:00")])
        self.assertEqual([r["path"] for r in self.server.requests], ["/sheet.csv"])

    def test_check_refuses_what_steps_cannot_do(self):
        cases = [
            # a look-up of a table only a later step writes
            ({"steps": {"packages": catalog_sync()["steps"]["packages"],
                        "brands": catalog_sync()["steps"]["brands"]}},
             "syncs.catalog.steps.packages.fields.brand_id.lookup: looks up table brands, which"
             " the later step 'brands' writes: put step 'brands' before step 'packages'"),
            ({"steps": {"brands": catalog_sync()["steps"]["brands"],
                        "again": catalog_sync()["steps"]["brands"]}},
             "syncs.catalog.steps.again.target: steps 'brands' and 'again' both write table"
             " brands: one step per table"),
            (dict(catalog_sync(), noun="things"),
             "syncs.catalog.noun: 'noun' goes in each step of a sync with steps"
             " (steps.NAME.noun), not beside them"),
            (catalog_sync(packages_source="nosuch"),
             "syncs.catalog.steps.packages.source: 'nosuch' is not an earlier step of this"
             " sync"),
            (catalog_sync(brands_extra={"target": {"table": "brands", "key": "code",
                                                   "database": "sqlite:other.db"}}),
             "syncs.catalog.steps.brands.target.database: the steps of a sync write into the"
             " config's database"),
            ({"steps": {}}, "syncs.catalog.steps: define at least one step"),
        ]
        for sync, message in cases:
            with self.subTest(message=message[:40]):
                self.write_config({"catalog": sync})
                code, out, err = self.run_ferry("check")
                self.assertEqual(code, 2, out + err)
                self.assertIn(message, err)
                self.assertRegex(err, r"ferry\.yaml:\d+: ")


PG_CATALOG = """
    CREATE TABLE brands (
      id bigserial PRIMARY KEY,
      code character varying NOT NULL,
      name character varying NOT NULL,
      active boolean DEFAULT true NOT NULL,
      created_at timestamp(6) without time zone NOT NULL,
      updated_at timestamp(6) without time zone NOT NULL);
    CREATE UNIQUE INDEX index_brands_on_code ON brands USING btree (code);
    CREATE TABLE packages (
      id bigserial PRIMARY KEY,
      code character varying NOT NULL,
      name character varying NOT NULL,
      brand_id bigint NOT NULL REFERENCES brands (id),
      price numeric(10,2),
      sessions integer DEFAULT 1 NOT NULL,
      created_at timestamp(6) without time zone NOT NULL,
      updated_at timestamp(6) without time zone NOT NULL);
    CREATE UNIQUE INDEX index_packages_on_code ON packages USING btree (code);
"""

PG_STAFF = """
    CREATE TABLE therapists (
      id bigserial PRIMARY KEY,
      employee_id character varying NOT NULL,
      name character varying NOT NULL,
      email character varying NOT NULL,
      phone character varying,
      employment character varying,
      status character varying,
      discarded_at timestamp(6) without time zone,
      created_at timestamp(6) without time zone NOT NULL,
      updated_at timestamp(6) without time zone NOT NULL);
    CREATE UNIQUE INDEX index_therapists_on_employee_id ON therapists USING btree (employee_id);
    CREATE TABLE schedules (
      id bigserial PRIMARY KEY,
      employee_id character varying NOT NULL,
      therapist_id bigint NOT NULL REFERENCES therapists (id),
      location character varying,
      days character varying,
      starts_at character varying,
      ends_at character varying,
      created_at timestamp(6) without time zone NOT NULL,
      updated_at timestamp(6) without time zone NOT NULL);
    CREATE UNIQUE INDEX index_schedules_on_employee_id ON schedules USING btree (employee_id);
"""


class ExamplesTest(ferrytest.FerryTestCase):
    """The examples with steps, run as shipped (their config naming this test's database)."""

    def copy_example(self, config, files):
        with open(os.path.join(ferrytest.SOURCE_ROOT, "examples", config)) as f:
            text = f.read()
        database = re.search(r"^database: (\S+)$", text, re.M).group(1)
        self.write_file("ferry.yaml", text.replace(database, "sqlite:ferry.db"))
        for name in files:
            with open(os.path.join(ferrytest.SOURCE_ROOT, "examples", name), "rb") as f:
                self.write_file(name, f.read())

    def test_brands_and_packages(self):
        self.copy_example("brands-and-packages.yaml", ["brands.csv", "packages.csv"])
        self.create_tables("brands-and-packages.sql", PG_CATALOG)
        code, out, err = self.run_ferry("sync", "catalog")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Processed 3 brands: 3 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 0 failed. Processed 5 packages: 5 created, 0 updated, 0 unchanged,"
                      " 0 skipped, 0 failed, 0 deleted.", out)
        rows = self.query(
            "SELECT p.code AS package, b.code AS brand, p.price AS price, p.sessions AS n,"
            " b.active AS active FROM packages p JOIN brands b ON b.id = p.brand_id"
            " ORDER BY p.code")
        self.assertEqual([(r[0], r[1], float(r[2]), int(r[3]), bool(r[4])) for r in rows],
                         [("PK-101", "BR-1", 450000.0, 1, True),
                          ("PK-102", "BR-1", 2000000.0, 5, True),
                          ("PK-201", "BR-2", 375500.5, 1, True),
                          ("PK-202", "BR-2", 1250000.0, 10, True),
                          ("PK-301", "BR-3", 99000.0, 1, False)])
        code, out, err = self.run_ferry("sync", "catalog")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Processed 3 brands: 0 created, 0 updated, 3 unchanged, 0 skipped,"
                      " 0 failed. Processed 5 packages: 0 created, 0 updated, 5 unchanged,"
                      " 0 skipped, 0 failed, 0 deleted.", out)


    def test_therapists_and_schedules(self):
        self.copy_example("therapists-and-schedules.yaml", ["therapists-and-schedules.csv"])
        self.create_tables("therapists-and-schedules.sql", PG_STAFF)
        code, out, err = self.run_ferry("sync", "staff")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Processed 7 therapists: 4 created, 0 updated, 0 unchanged, 1 skipped,"
                      " 1 FLAT skipped, 1 failed, 0 flagged as missing. Processed 7 schedules:"
                      " 3 created, 0 updated, 0 unchanged, 2 skipped, 2 failed, 0 deleted.", out)
        self.assertEqual(self.query("SELECT employee_id, name, employment FROM therapists"
                                    " ORDER BY employee_id"),
                         [("T001", "Ayu Lestari", "Karyawan"), ("T002", "Budi Santoso", "Freelance"),
                          ("T006", "Fajar Nugroho", "Part Time"),
                          ("T007", "Gita Maharani", "Karyawan")])
        self.assertEqual(self.query("SELECT s.employee_id AS e, t.name AS n, s.days AS d"
                                    " FROM schedules s JOIN therapists t ON t.id = s.therapist_id"
                                    " ORDER BY s.employee_id"),
                         [("T001", "Ayu Lestari", "Mon-Fri"), ("T002", "Budi Santoso", "Sat-Sun"),
                          ("T006", "Fajar Nugroho", "Mon-Fri")])
        run = self.last_run()
        self.assertEqual(json.loads(run["skipped_by_label"]), {"FLAT": 1})
        changes = self.changes(run["id"])
        self.assertEqual([(c["outcome"], c["record_key"], c["label"]) for c in changes
                          if c["step"] == "therapists"],
                         [("created", "T001", "Ayu Lestari (ayu.lestari@example.com)"),
                          ("created", "T002", "Budi Santoso (budi.santoso@example.com)"),
                          ("skipped", "T003", "Citra Dewi (citra.dewi@example.com)"),
                          ("skipped", "T004", "Dian Pratama (dian.pratama@example.com)"),
                          ("failed", "T005", "Eka Putri"),
                          ("created", "T006", "Fajar Nugroho (fajar.nugroho@example.com)"),
                          ("created", "T007", "Gita Maharani (gita.maharani@example.com)")])
        self.assertEqual([(c["record_key"], c["reason"]) for c in changes
                          if c["step"] == "schedules" and c["outcome"] == "failed"],
                         [("T003", "row 4: therapist_id 'T003' not found in"
                                   " therapists.employee_id"),
                          ("T005", "row 6: therapist_id 'T005' not found in"
                                   " therapists.employee_id")])

        # Budi leaves the sheet: his row is flagged in the app's column, his schedule deleted.
        with open(self.path("therapists-and-schedules.csv")) as f:
            lines = [l for l in f if not l.startswith("T002,")]
        self.write_file("therapists-and-schedules.csv", "".join(lines))
        code, out, err = self.run_ferry("sync", "staff")
        self.assertEqual(code, 0, out + err)
        self.assertIn("Processed 6 therapists: 0 created, 0 updated, 3 unchanged, 1 skipped,"
                      " 1 FLAT skipped, 1 failed, 1 flagged as missing. Processed 6 schedules:"
                      " 0 created, 0 updated, 2 unchanged, 2 skipped, 2 failed, 1 deleted.", out)
        self.assertEqual(self.query("SELECT employee_id FROM therapists"
                                    " WHERE discarded_at IS NOT NULL"), [("T002",)])
        self.assertEqual(self.query("SELECT employee_id FROM schedules ORDER BY employee_id"),
                         [("T001",), ("T006",)])

    def create_tables(self, sql_file, pg_ddl):
        if ON_POSTGRES:
            self.exec_script(pg_ddl)
            return
        with open(os.path.join(ferrytest.SOURCE_ROOT, "examples", sql_file)) as f:
            self.exec_script(f.read())

if __name__ == "__main__":
    ferrytest.main()
