"""Look-ups: a package row names its brand by code; packages.brand_id holds the brand's id.

Into an application's tables (surrogate ids, unique natural keys, a real foreign key from
packages to brands), on SQLite and, as pgsuite/test_lookups, on PostgreSQL: brand codes become
ids; an unknown code fails its record with a reason naming the value and the table, never a
foreign key error, while the others land; optional: true writes NULL; a second run of the
same data is unchanged; a brand's id changing moves the package to it, as an update; ferry
check refuses a look-up of a table or column that does not exist, naming the file, line and
key; a failed look-up on a key field keeps on_missing from deleting anything.
"""

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
          brand_id integer REFERENCES brands (id));
        CREATE UNIQUE INDEX index_packages_on_code ON packages (code);
        INSERT INTO brands (code, name) VALUES ('BR-1', 'Sunrise'), ('BR-2', 'Harbour');
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
          brand_id bigint REFERENCES brands (id));
        CREATE UNIQUE INDEX index_packages_on_code ON packages USING btree (code);
        INSERT INTO brands (code, name) VALUES ('BR-1', 'Sunrise'), ('BR-2', 'Harbour');
    """,
}

HEADER = ["Code", "Name", "Brand"]
PACKAGES = [["P1", "Basic", "BR-1"], ["P2", "Gold", "BR-2"], ["P3", "Lost", "BR-9"],
            ["P4", "Plain", ""]]


def packages_sync(optional=False, on_missing="keep", key="code", table="brands",
                  match="code"):
    lookup = {"table": table, "match": match}
    if optional:
        lookup["optional"] = True
    return {"source": {"url": "packages.csv"},
            "target": {"table": "packages", "key": key, "on_missing": on_missing},
            "fields": {"code": {"column": "Code"}, "name": {"column": "Name"},
                       "brand_id": {"column": "Brand", "type": "integer", "lookup": lookup}}}


class LookupsTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.exec_script(TABLES["postgres" if ON_POSTGRES else "sqlite"])
        self.write_csv("packages.csv", HEADER, PACKAGES)

    def packages(self):
        return [tuple(r) for r in self.query(
            "SELECT p.code AS package, p.name AS name, b.code AS brand FROM packages p"
            " LEFT JOIN brands b"
            " ON b.id = p.brand_id ORDER BY p.code")]

    def test_codes_become_ids_and_an_unknown_code_fails_its_record(self):
        self.write_config({"packages": packages_sync()})
        code, out, _ = self.run_ferry("sync", "packages")
        self.assertEqual(code, 0, out)
        self.assertIn("Processed 4 packages: 3 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 1 failed.", out)
        self.assertEqual(self.packages(), [("P1", "Basic", "BR-1"), ("P2", "Gold", "BR-2"),
                                           ("P4", "Plain", None)])
        run = self.last_run()
        failed = [(c["record_key"], c["reason"]) for c in self.changes(run["id"])
                  if c["outcome"] == "failed"]
        self.assertEqual(failed, [("P3", "row 4: brand_id 'BR-9' not found in brands.code")])

        # The same data again: nothing changes.
        self.sync("packages")
        run = self.last_run()
        self.assertEqual((run["created"], run["updated"], run["unchanged"], run["failed"]),
                         (0, 0, 3, 1))

        # The brand is added, and P1 moves to BR-2: one created, one updated (by id).
        self.exec_script("INSERT INTO brands (code, name) VALUES ('BR-9', 'Late')")
        self.write_csv("packages.csv", HEADER,
                       [["P1", "Basic", "BR-2"]] + PACKAGES[1:])
        self.sync("packages")
        run = self.last_run()
        self.assertEqual((run["created"], run["updated"], run["unchanged"], run["failed"]),
                         (1, 1, 2, 0))
        updated = [c for c in self.changes(run["id"]) if c["outcome"] == "updated"]
        self.assertEqual([c["record_key"] for c in updated], ["P1"])
        self.assertIn('"brand_id"', updated[0]["diff"])
        self.assertEqual(self.packages(), [("P1", "Basic", "BR-2"), ("P2", "Gold", "BR-2"),
                                           ("P3", "Lost", "BR-9"), ("P4", "Plain", None)])

    def test_optional_writes_null(self):
        self.write_config({"packages": packages_sync(optional=True)})
        self.sync("packages")
        run = self.last_run()
        self.assertEqual((run["created"], run["failed"]), (4, 0))
        self.assertEqual(self.packages()[2], ("P3", "Lost", None))

    def test_check_refuses_a_table_or_column_that_does_not_exist(self):
        for table, match, want in (("brandz", "code", "brandz"), ("brands", "kode", "kode")):
            self.write_config({"packages": packages_sync(table=table, match=match)})
            code, out, err = self.run_ferry("check")
            self.assertEqual(code, 2, out + err)
            self.assertRegex(err, r"ferry\.yaml: sync packages: line \d+: "
                                  r"syncs\.packages\.fields\.brand_id\.lookup: ")
            self.assertIn(want, err)
            # A run refuses too, changing nothing.
            code, out, _ = self.run_ferry("sync", "packages")
            self.assertEqual(code, 1, out)
            self.assertIn("fields.brand_id.lookup", out)
            self.assertEqual(self.query("SELECT count(*) FROM packages"), [(0,)])

    def test_a_failed_lookup_on_a_key_deletes_nothing(self):
        # Schedules keyed by their therapist's id: a row whose code is unknown cannot say
        # which row it is, so on_missing deletes nothing this run, as for an unreadable key.
        self.exec_script("CREATE UNIQUE INDEX index_packages_on_code_and_brand_id"
                         " ON packages (code, brand_id)")
        self.write_config({"packages": packages_sync(on_missing="delete",
                                                     key=["code", "brand_id"])})
        self.write_csv("packages.csv", HEADER, PACKAGES[:2])
        self.sync("packages")
        self.write_csv("packages.csv", HEADER, [["P1", "Basic", "BR-7"], PACKAGES[1]])
        code, out, _ = self.run_ferry("sync", "packages", "--allow-missing")
        self.assertEqual(code, 0, out)
        run = self.last_run()
        self.assertEqual((run["unchanged"], run["failed"], run["deleted"]), (1, 1, 0))
        self.assertEqual(self.packages(), [("P1", "Basic", "BR-1"), ("P2", "Gold", "BR-2")])


if __name__ == "__main__":
    ferrytest.main()
