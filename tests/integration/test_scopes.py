"""Several syncs, one table: target.scope keeps each sync to its own rows.

A ticket tracker keeps JIRA issues and Freshservice tickets in one incidents table, told apart
by a source_system column. Each sync writes its scope's value on every row, matches only rows
holding it (the same external id may exist in both systems) and deletes or flags only its
own missing rows. Ferry refuses, at load (ferry check, ferry sync, ferry serve), two syncs on
one table whose scopes do not keep them apart when either deletes or flags; a properly scoped
pair passes ferry check. Runs on SQLite and, as pgsuite/test_scopes, on PostgreSQL, into a
table Ferry creates and into an application's table (surrogate id, unique index over the
scope column and the key, a soft-delete column).
"""

import ferrytest
from ferrytest import ON_POSTGRES

HEADER = ["external_id", "title"]
JIRA = [["1001", "Login fails"], ["1002", "Slow search"], ["1003", "Typo on home page"]]
FRESH = [["1001", "Printer on fire"], ["2002", "New laptop"], ["2003", "VPN access"]]

APP_TABLE = {
    "sqlite": """
        CREATE TABLE incidents (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          source_system varchar NOT NULL,
          external_id varchar NOT NULL,
          title varchar,
          deleted_at datetime(6),
          created_at datetime(6) NOT NULL,
          updated_at datetime(6) NOT NULL);
        CREATE UNIQUE INDEX index_incidents_on_source_system_and_external_id
          ON incidents (source_system, external_id);
    """,
    "postgres": """
        CREATE TABLE incidents (
          id bigserial PRIMARY KEY,
          source_system character varying NOT NULL,
          external_id character varying NOT NULL,
          title character varying,
          deleted_at timestamp(6) without time zone,
          created_at timestamp(6) without time zone NOT NULL,
          updated_at timestamp(6) without time zone NOT NULL);
        CREATE UNIQUE INDEX index_incidents_on_source_system_and_external_id
          ON incidents USING btree (source_system, external_id);
    """,
}


def incident_sync(name, system, on_missing="delete", extra=None):
    target = {"table": "incidents", "key": "external_id", "on_missing": on_missing}
    if system is not None:
        target["scope"] = {"source_system": system}
    target.update(extra or {})
    return {"source": {"url": "%s.csv" % name}, "target": target,
            "fields": {"external_id": {}, "title": {}}}


class ScopesTest(ferrytest.FerryTestCase):
    def write_pair(self, jira=JIRA, fresh=FRESH, **kwargs):
        self.write_csv("jira.csv", HEADER, jira)
        self.write_csv("freshservice.csv", HEADER, fresh)
        extra = kwargs.get("extra")
        self.write_config({
            "jira": incident_sync("jira", kwargs.get("jira_scope", "jira"),
                                  kwargs.get("on_missing", "delete"), extra),
            "freshservice": incident_sync("freshservice", kwargs.get("fresh_scope", "freshservice"),
                                          kwargs.get("on_missing", "delete"), extra),
        })

    def incidents(self, where="TRUE"):
        return [tuple(r) for r in self.query(
            "SELECT source_system, external_id, title FROM incidents WHERE %s"
            " ORDER BY source_system, external_id" % where)]

    def counts(self):
        run = self.last_run()
        return (run["status"], run["created"], run["updated"], run["unchanged"],
                run["deleted"])

    def check_each_keeps_its_own_rows(self):
        self.sync("jira")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0, 0))
        # The same external id (1001) is a new row in the other system: the scope is part of
        # the match.
        self.sync("freshservice")
        self.assertEqual(self.counts(), ("succeeded", 3, 0, 0, 0))
        everything = [("freshservice",) + tuple(r) for r in FRESH] + \
                     [("jira",) + tuple(r) for r in JIRA]
        self.assertEqual(self.incidents(), everything)
        for name in ("jira", "freshservice"):
            self.sync(name)
            self.assertEqual(self.counts(), ("succeeded", 0, 0, 3, 0))

        # JIRA drops 1003 and renames 1001: only JIRA's rows change, and only JIRA's 1001.
        jira = [["1001", "Login fails on Safari"], ["1002", "Slow search"]]
        self.write_csv("jira.csv", HEADER, jira)
        self.sync("jira")
        self.assertEqual(self.counts(), ("succeeded", 0, 1, 1, 1))
        run = self.last_run()
        gone = [(c["outcome"], c["record_key"]) for c in self.changes(run["id"])
                if c["outcome"] == "deleted"]
        self.assertEqual(gone, [("deleted", "1003")])
        return jira

    def test_two_scoped_syncs_keep_and_delete_only_their_rows(self):
        self.write_pair()
        jira = self.check_each_keeps_its_own_rows()
        self.assertEqual(self.incidents("source_system = 'jira'"),
                         [("jira",) + tuple(r) for r in jira])
        self.assertEqual(self.incidents("source_system = 'freshservice'"),
                         [("freshservice",) + tuple(r) for r in FRESH])
        # Freshservice's next run sees its own three rows, none missing.
        self.sync("freshservice")
        self.assertEqual(self.counts(), ("succeeded", 0, 0, 3, 0))
        # An empty source for one scope would delete its rows only (the guard refuses a run
        # that would delete them all, so two of three go here).
        self.write_csv("freshservice.csv", HEADER, FRESH[:1])
        self.sync("freshservice", "--allow-missing")
        self.assertEqual(self.counts(), ("succeeded", 0, 0, 1, 2))
        self.assertEqual(self.incidents("source_system = 'jira'"),
                         [("jira",) + tuple(r) for r in jira])

    def test_scoped_syncs_into_an_application_table_with_its_soft_delete_column(self):
        self.exec_script(APP_TABLE["postgres" if ON_POSTGRES else "sqlite"])
        self.write_pair(on_missing="flag",
                        extra={"timestamps": True, "flag": {"column": "deleted_at"}})
        self.sync("jira")
        self.sync("freshservice")
        self.assertEqual(self.query("SELECT count(*) FROM incidents"), [(6,)])
        self.assertEqual(self.query("SELECT max(id) FROM incidents"), [(6,)])
        self.write_csv("jira.csv", HEADER, JIRA[:2])
        self.sync("jira")
        self.assertEqual(self.counts(), ("succeeded", 0, 0, 2, 1))  # flagged counts as deleted
        self.assertEqual(self.query("SELECT source_system, external_id FROM incidents"
                                    " WHERE deleted_at IS NOT NULL"), [("jira", "1003")])
        # Freshservice's rows are untouched, and its own run flags nothing.
        self.sync("freshservice")
        self.assertEqual(self.counts(), ("succeeded", 0, 0, 3, 0))
        self.assertEqual(self.query("SELECT count(*) FROM incidents WHERE deleted_at IS NULL"),
                         [(5,)])
        # The record comes back: its flag is cleared, in its own scope only.
        self.write_csv("jira.csv", HEADER, JIRA)
        self.sync("jira")
        self.assertEqual(self.query("SELECT count(*) FROM incidents WHERE deleted_at IS NULL"),
                         [(6,)])

    def test_the_unique_index_asked_for_covers_the_scope_and_the_key(self):
        ddl = APP_TABLE["postgres" if ON_POSTGRES else "sqlite"]
        ddl = ddl.replace("(source_system, external_id)", "(external_id)")
        self.exec_script(ddl)
        self.write_pair(extra={"timestamps": True})
        code, out, err = self.run_ferry("sync", "jira")
        self.assertNotEqual(code, 0, out + err)
        self.assertIn("incidents", out + err)
        line = [l for l in (out + err).splitlines() if "CREATE UNIQUE INDEX" in l]
        self.assertTrue(line, out + err)
        self.assertRegex(line[0], r"CREATE UNIQUE INDEX \S+ ON \S*incidents\S* "
                                  r"\(\"?external_id\"?, \"?source_system\"?\)")
        self.assertEqual(self.query("SELECT count(*) FROM incidents"), [(0,)])

    def test_check_refuses_an_unscoped_pair_that_deletes_and_names_both(self):
        self.write_pair(fresh_scope=None)
        for args in (("check",), ("sync", "jira")):
            code, out, err = self.run_ferry(*args)
            self.assertNotEqual(code, 0, out + err)
            self.assertIn("syncs 'jira' and 'freshservice' both write table incidents", err)
            self.assertIn("target.scope", err)
        self.assertFalse(self.table_exists("incidents"))

    def test_check_refuses_a_pair_whose_scopes_hold_the_same_value(self):
        self.write_pair(fresh_scope="jira", on_missing="flag")
        code, out, err = self.run_ferry("check")
        self.assertNotEqual(code, 0, out + err)
        self.assertIn("'jira' flags the rows its source no longer has", err)

    def test_check_passes_a_scoped_pair_and_an_unscoped_pair_that_keeps_rows(self):
        self.write_pair()
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 0, out + err)
        self.write_pair(jira_scope=None, fresh_scope=None, on_missing="keep")
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 0, out + err)

    def test_a_scope_column_that_is_also_a_field_is_refused(self):
        sync = incident_sync("jira", "jira")
        sync["target"]["scope"] = {"title": "jira"}
        self.write_csv("jira.csv", HEADER, JIRA)
        self.write_config({"jira": sync})
        code, out, err = self.run_ferry("check")
        self.assertNotEqual(code, 0, out + err)
        self.assertIn("syncs.jira.target.scope", err)
        self.assertIn("column 'title' is also a field", err)


if __name__ == "__main__":
    ferrytest.main()
