"""Labelled skips and record names: a therapists sheet with flats and test rows skipped under
labels, records named "{name} ({email})".

Into an application's table (a surrogate id, a unique natural key), on SQLite and, as
pgsuite/test_skip_labels, on PostgreSQL: the run's message word for word, with each label's
count after the plain skipped one; the run JSON's counts.skipped (labelled skips left out) and
skipped_by_label (in the config's order), from a run of the command line and one of a worker;
the change rows' label beside their key, through the API; ferry show; the audit export's last
column; a labelled skip's reason ending with its label; a sync with steps, each step with its
own labels and names, counted per step and summed in the run.
"""

import csv
import io
import json

import ferrytest
from ferrytest import ON_POSTGRES

TABLES = {
    "sqlite": """
        CREATE TABLE therapists (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          employee_id varchar NOT NULL,
          name varchar NOT NULL,
          email varchar,
          phone varchar,
          type varchar);
        CREATE UNIQUE INDEX index_therapists_on_employee_id ON therapists (employee_id);
        CREATE TABLE rooms (
          id integer PRIMARY KEY AUTOINCREMENT NOT NULL,
          code varchar NOT NULL,
          name varchar NOT NULL,
          status varchar);
        CREATE UNIQUE INDEX index_rooms_on_code ON rooms (code);
    """,
    "postgres": """
        CREATE TABLE therapists (
          id bigserial PRIMARY KEY,
          employee_id character varying NOT NULL,
          name character varying NOT NULL,
          email character varying,
          phone character varying,
          type character varying);
        CREATE UNIQUE INDEX index_therapists_on_employee_id ON therapists USING btree
          (employee_id);
        CREATE TABLE rooms (
          id bigserial PRIMARY KEY,
          code character varying NOT NULL,
          name character varying NOT NULL,
          status character varying);
        CREATE UNIQUE INDEX index_rooms_on_code ON rooms USING btree (code);
    """,
}

SYNC = {
    "title": "Therapists",
    "source": {"url": "therapists.csv"},
    "target": {"table": "therapists", "key": ["employee_id"]},
    "label": "{name} ({email})",
    "fields": {
        "employee_id": {"column": "Employee ID"},
        "name": {"column": "Name", "required": True},
        "email": {"column": "Email", "type": "email"},
        "phone": {"column": "Phone"},
        "type": {"column": "Type"},
    },
    "skip": {
        "type": {"in": ["Flat"], "label": "FLAT"},
        "email": {"empty": True},
        "phone": {"in": ["000"], "label": "TEST"},
    },
}

HEADER = ["Employee ID", "Name", "Email", "Phone", "Type"]
FIRST = [
    ["T001", "John Doe", "john@example.com", "+628111111111", "Home"],
    ["T002", "Mike Johnson", "mike@example.com", "+628123456789", "Home"],
    ["T003", "Sari", "sari@example.com", "+628222222222", "Flat"],
    ["T004", "Rina", "", "+628333333333", "Home"],
    ["T005", "Bob Wilson", "bob@", "+628444444444", "Home"],
    ["T006", "Dewi", "dewi@example.com", "+628555555555", "flat"],
    ["T008", "Tes", "tes@example.com", "000", "Home"],
]
SECOND = [
    ["T001", "John Doe", "john@example.com", "+628111111111", "Home"],
    ["T002", "Mike Johnson", "mike@example.com", "+628123456780", "Home"],
    ["T003", "Sari", "sari@example.com", "+628222222222", "Flat"],
    ["T005", "Bob Wilson", "bob@", "+628444444444", "Home"],
    ["T007", "Ana", "ana@example.com", "+628666666666", "Home"],
]

FIRST_SUMMARY = ("Processed 7 therapists: 2 created, 0 updated, 0 unchanged, 1 skipped,"
                 " 2 FLAT skipped, 1 TEST skipped, 1 failed.")
SECOND_SUMMARY = ("Processed 5 therapists: 1 created, 1 updated, 1 unchanged, 0 skipped,"
                  " 1 FLAT skipped, 0 TEST skipped, 1 failed.")
SECOND_LOG = (SECOND_SUMMARY + "\n"
              "Created: Ana (ana@example.com).\n"
              "Updated: Mike Johnson (mike@example.com) (phone: '+628123456789' ->"
              " '+628123456780').\n"
              "Skipped: Sari (sari@example.com) (type 'Flat' in [Flat] (FLAT)).\n"
              "Failed: Bob Wilson (email 'bob@' is not an email address).")


class SkipLabelsTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.exec_script(TABLES["postgres" if ON_POSTGRES else "sqlite"])
        self.write_config({"therapists": SYNC})

    def test_labelled_skips_and_record_names_everywhere(self):
        self.write_csv("therapists.csv", HEADER, FIRST)
        out, _ = self.sync("therapists")
        self.assertIn(FIRST_SUMMARY + "\n", out)
        first = self.last_run()
        self.assertEqual(first["skipped"], 1)
        self.assertEqual(json.loads(first["skipped_by_label"]), {"FLAT": 2, "TEST": 1})
        self.assertEqual(
            [(c["outcome"], c["record_key"], c["label"], c["reason"])
             for c in self.changes(first["id"])],
            [("created", "T001", "John Doe (john@example.com)", None),
             ("created", "T002", "Mike Johnson (mike@example.com)", None),
             ("skipped", "T003", "Sari (sari@example.com)", "row 4: type 'Flat' in [Flat] (FLAT)"),
             ("skipped", "T004", "Rina", "row 5: email is empty"),
             ("failed", "T005", "Bob Wilson", "row 6: email 'bob@' is not an email address"),
             ("skipped", "T006", "Dewi (dewi@example.com)", "row 7: type 'flat' in [Flat] (FLAT)"),
             ("skipped", "T008", "Tes (tes@example.com)", "row 8: phone '000' in [000] (TEST)")])
        self.assertEqual(self.query("SELECT employee_id, name FROM therapists ORDER BY id"),
                         [("T001", "John Doe"), ("T002", "Mike Johnson")])

        self.write_csv("therapists.csv", HEADER, SECOND)
        with self.serve() as srv:
            run = srv.run_to_end("therapists")
            self.assertEqual(run["ui_message"], SECOND_SUMMARY)
            self.assertEqual(run["log_message"], SECOND_LOG)
            self.assertEqual(run["counts"], {"created": 1, "updated": 1, "unchanged": 1,
                                             "skipped": 0, "failed": 1, "deleted": 0})
            self.assertEqual(list(run["skipped_by_label"].items()), [("FLAT", 1), ("TEST", 0)])
            self.assertEqual(run["processed"], 5)

            # The command line's run reads back the same way, labels in config order.
            got = srv.get_json("/api/runs/%d" % first["id"])
            self.assertEqual(got["counts"]["skipped"], 1)
            self.assertEqual(list(got["skipped_by_label"].items()), [("FLAT", 2), ("TEST", 1)])

            changes = srv.get_json("/api/runs/%d/changes" % run["id"])["changes"]
            self.assertEqual(
                [(c["outcome"], c["key"], c["label"]) for c in changes],
                [("updated", "T002", "Mike Johnson (mike@example.com)"),
                 ("skipped", "T003", "Sari (sari@example.com)"),
                 ("failed", "T005", "Bob Wilson"),
                 ("created", "T007", "Ana (ana@example.com)")])
            self.assertEqual(changes[1]["reason"], "row 4: type 'Flat' in [Flat] (FLAT)")
            self.assertEqual(changes[0]["diff"], {"phone": ["+628123456789", "+628123456780"]})

            exported = srv.get("/api/runs/export?sync=therapists").body.decode()
            rows = list(csv.reader(io.StringIO(exported)))
            self.assertEqual(rows[0][-4:], ["ui_message", "error", "steps", "skipped_by_label"])
            self.assertEqual(rows[0][16], "skipped")
            self.assertEqual([(r[0], r[16], r[-1]) for r in rows[1:]],
                             [(str(run["id"]), "0", '{"FLAT":1,"TEST":0}'),
                              (str(first["id"]), "1", '{"FLAT":2,"TEST":1}')])
            as_json = json.loads(srv.get("/api/runs/export?format=json&sync=therapists").body)
            self.assertEqual(as_json[0]["skipped_by_label"], {"FLAT": 1, "TEST": 0})

        code, out, err = self.run_ferry("show", str(run["id"]))
        self.assertEqual(code, 0, out + err)
        self.assertIn("  counts:    1 created, 1 updated, 1 unchanged, 0 skipped, 1 FLAT skipped,"
                      " 0 TEST skipped, 1 failed, 0 deleted\n", out)
        self.assertIn("  message:   " + SECOND_SUMMARY + "\n", out)
        self.assertIn("\nChanges (first 4):\n"
                      "  updated  T002                 Mike Johnson (mike@example.com) -"
                      ' {"phone":["+628123456789","+628123456780"]}\n'
                      "  skipped  T003                 Sari (sari@example.com) - row 4: type"
                      " 'Flat' in [Flat] (FLAT)\n"
                      "  failed   T005                 Bob Wilson - row 5: email 'bob@' is not"
                      " an email address\n"
                      "  created  T007                 Ana (ana@example.com)\n", out)

    def test_a_sync_without_labels_reads_as_before(self):
        plain = dict(SYNC, skip={"type": {"in": ["Flat"]}})
        del plain["label"]
        self.write_config({"therapists": plain})
        self.write_csv("therapists.csv", HEADER, FIRST[:3])
        out, _ = self.sync("therapists")
        self.assertIn("Processed 3 therapists: 2 created, 0 updated, 0 unchanged, 1 skipped,"
                      " 0 failed.\n", out)
        run = self.last_run()
        self.assertIsNone(run["skipped_by_label"])
        self.assertEqual([(c["record_key"], c["label"]) for c in self.changes(run["id"])],
                         [("T001", None), ("T002", None), ("T003", None)])
        with self.serve() as srv:
            got = srv.get_json("/api/runs/%d" % run["id"])
            self.assertEqual(got["skipped_by_label"], {})
            self.assertIn("\nCreated: T001; T002.\n", got["log_message"])
            changes = srv.get_json("/api/runs/%d/changes" % run["id"])["changes"]
            self.assertIsNone(changes[0]["label"])

    def test_each_step_counts_its_own_labels_and_names_its_own_records(self):
        therapists = {k: v for k, v in SYNC.items() if k != "title"}
        therapists = dict(therapists, label="{name}", skip={"type": {"in": ["Flat"],
                                                                      "label": "FLAT"}})
        rooms = {"source": {"url": "rooms.csv"},
                 "target": {"table": "rooms", "key": "code"},
                 "label": "Room {name}",
                 "fields": {"code": {"column": "Code"}, "name": {"column": "Name"},
                            "status": {"column": "Status"}},
                 "skip": {"status": {"in": ["closed"], "label": "CLOSED"}}}
        self.write_config({"clinic": {"title": "Clinic",
                                      "steps": {"therapists": therapists, "rooms": rooms}}})
        self.write_csv("therapists.csv", HEADER, FIRST[:3])
        self.write_csv("rooms.csv", ["Code", "Name", "Status"],
                       [["R1", "Lotus", "open"], ["R2", "Jasmine", "closed"],
                        ["R3", "Orchid", "Closed"]])
        out, _ = self.sync("clinic")
        summary = ("Processed 3 therapists: 2 created, 0 updated, 0 unchanged, 0 skipped,"
                   " 1 FLAT skipped, 0 failed. Processed 3 rooms: 1 created, 0 updated,"
                   " 0 unchanged, 0 skipped, 2 CLOSED skipped, 0 failed.")
        self.assertIn(summary + "\n", out)
        run = self.last_run()
        self.assertEqual(json.loads(run["skipped_by_label"]), {"FLAT": 1, "CLOSED": 2})
        steps = json.loads(run["steps"])
        self.assertEqual([list(st["skipped_by_label"].items()) for st in steps],
                         [[("FLAT", 1)], [("CLOSED", 2)]])
        self.assertEqual([(st["counts"]["skipped"], st["processed"]) for st in steps],
                         [(0, 3), (0, 3)])
        self.assertEqual([(c["step"], c["outcome"], c["record_key"], c["label"])
                          for c in self.changes(run["id"])],
                         [("therapists", "created", "T001", "John Doe"),
                          ("therapists", "created", "T002", "Mike Johnson"),
                          ("therapists", "skipped", "T003", "Sari"),
                          ("rooms", "created", "R1", "Room Lotus"),
                          ("rooms", "skipped", "R2", "Room Jasmine"),
                          ("rooms", "skipped", "R3", "Room Orchid")])
        with self.serve() as srv:
            got = srv.get_json("/api/runs/%d" % run["id"])
            self.assertEqual(got["ui_message"], summary)
            self.assertEqual(list(got["skipped_by_label"].items()), [("FLAT", 1), ("CLOSED", 2)])
            self.assertIn("\nSkipped: Sari (type 'Flat' in [Flat] (FLAT)); Room Jasmine (status"
                          " 'closed' in [closed] (CLOSED)); Room Orchid (status 'Closed' in"
                          " [closed] (CLOSED)).\n", got["log_message"] + "\n")
        code, out, err = self.run_ferry("show", str(run["id"]))
        self.assertEqual(code, 0, out + err)
        self.assertIn("  step 1:    therapists: 2 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 1 FLAT skipped, 0 failed, 0 deleted (done)\n", out)
        self.assertIn("  step 2:    rooms: 1 created, 0 updated, 0 unchanged, 0 skipped,"
                      " 2 CLOSED skipped, 0 failed, 0 deleted (done)\n", out)
        self.assertRegex(out, r"skipped\s+rooms\s+R2\s+Room Jasmine - row 3: status 'closed'")

        # A label goes in each step, not beside them.
        self.write_config({"clinic": {"label": "{name}",
                                      "steps": {"therapists": therapists, "rooms": rooms}}})
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 2, out + err)
        self.assertRegex(err, r"ferry\.yaml:\d+: syncs\.clinic\.label: 'label' goes in each step"
                              r" of a sync with steps \(steps\.NAME\.label\), not beside them")

    def test_check_refuses_a_label_naming_no_field(self):
        self.write_config({"therapists": dict(SYNC, label="{name} ({emial})")})
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 2, out + err)
        self.assertRegex(err, r"ferry\.yaml:\d+: syncs\.therapists\.label: no field named"
                              r" 'emial' \(a label names records by their fields' values, such"
                              r" as \"\{name\} \(\{email\}\)\"\)")


if __name__ == "__main__":
    ferrytest.main()
