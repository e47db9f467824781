"""Google Sheets cell links: a skipped or failed record of a sheet's export links to the cell
that made it so, in its change row, the API, `ferry show` and the run page's data.

The loopback server stands in for docs.google.com at the export's path
(/spreadsheets/d/ID/export?format=csv&gid=G): the link keeps the export's scheme, host and
port, so it points back at the stand-in, as it points at docs.google.com for a real sheet.
"""

import textwrap

import ferrytest

SHEET = "1AbC-dEf_ghIJKlmnOPqrs"
CSV = textwrap.dedent("""\
    Code,Name,Email,Status
    T1,Ayu,ayu@example.com,active
    T2,Budi,not-an-email,active
    T3,Citra,citra@example.com,archived
    T4,,dewi@example.com,active
    T1,Eka,eka@example.com,active
    """)


class SheetLinkTest(ferrytest.FerryTestCase):
    def use_sheet(self, path):
        url = self.server.route(path.split("?")[0], body=CSV.encode(),
                                headers={"Content-Type": "text/csv"})
        if "?" in path:
            url += "?" + path.split("?", 1)[1]
        self.write_config(textwrap.dedent("""\
            database: sqlite:ferry.db
            allow_private: true
            syncs:
              therapists:
                source: { url: "%s" }
                target: { table: therapists, key: code }
                fields:
                  code:   { column: Code }
                  name:   { column: Name, required: true }
                  email:  { column: Email, type: email }
                  status: { column: Status }
                skip:
                  status: { in: [archived] }
                guard: { max_failed: 100%% }
            """ % url))
        return url

    def test_failed_and_skipped_records_link_to_their_cell(self):
        url = self.use_sheet("/spreadsheets/d/%s/export?format=csv&gid=1234" % SHEET)
        base = url.split("/export")[0] + "/edit#gid=1234&range="
        self.sync("therapists")
        run = self.last_run()
        got = {(c["outcome"], c["row"]): c["link"] for c in self.changes(run["id"])}
        self.assertEqual(got, {
            ("created", 2): None,
            ("failed", 3): base + "C3",     # the email column
            ("skipped", 4): base + "D4",    # the skip rule's column
            ("failed", 5): base + "B5",     # the required name
            ("failed", 6): base + "A6",     # a duplicate key: the key's column
        })
        with self.serve() as srv:
            changes = srv.get_json("/api/runs/%d/changes" % run["id"])["changes"]
            self.assertEqual([c["link"] for c in changes if c["outcome"] == "failed"],
                             [base + "C3", base + "B5", base + "A6"])
        code, out, err = self.run_ferry("show", str(run["id"]))
        self.assertEqual(code, 0, err)
        self.assertIn("fix it at %sC3" % base, out)

    def test_a_sheet_without_a_gid_is_its_first_tab(self):
        url = self.use_sheet("/spreadsheets/d/%s/export?format=csv" % SHEET)
        self.sync("therapists")
        links = [c["link"] for c in self.changes(self.last_run()["id"]) if c["link"]]
        self.assertEqual(links[0], url.split("/export")[0] + "/edit#gid=0&range=C3")

    def test_other_csv_sources_and_published_sheets_get_no_link(self):
        for path in ("/exports/therapists.csv",
                     "/spreadsheets/d/e/2PACX-1vQ/pub?output=csv"):
            self.use_sheet(path)
            self.sync("therapists")
            self.assertEqual([c["link"] for c in self.changes(self.last_run()["id"])
                              if c["link"] is not None], [], path)


if __name__ == "__main__":
    ferrytest.main()
