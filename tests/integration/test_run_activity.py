"""What a run tells while it works: records fetched "of" a total, the source's size and record
count, and the activity log (docs/api.md "Runs", "Events").

A REST sync against the fake upstream (fake_upstream.FakeUpstream, loopback) with a 429 that
asks to wait, a 500 that is retried and a page held back until the test lets it go, so the
run can be looked at while it fetches without any timing: the test polls the API in a
bounded loop until it sees what it expects, then releases the page. A CSV sync for the size
and record count of a file. Nothing here measures time.
"""

import json
import threading
import time

import ferrytest
from fake_upstream import FakeUpstream
from test_rest_source import PATIENTS, STYLES, RestTestCase, rest_yaml

N = 250  # 3 pages of 100

FIELDS = """\
fields:
  id:         { type: integer }
  first_name:
"""

# A value that must never reach the activity log: an API key in the query string.
QUERY_SECRET = "q-s3cret-7f1e"


def kinds_and_texts(activity):
    return [(e["kind"], e["text"]) for e in activity]


class ActivityTestCase(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.up = FakeUpstream(records=N).start()
        self.addCleanup(self.up.close)

    def use_style(self, style="next_link", extra=""):
        path, source = STYLES[style]
        source = source.replace("query: { per_page: 100 }",
                                "query: { per_page: 100, api_key: %s }" % QUERY_SECRET)
        self.write_config(rest_yaml(self.up.url(path), source + extra, FIELDS))

    def stored_activity(self, run_id):
        row = self.query_dicts("SELECT activity FROM ferry_runs WHERE id = ?", (run_id,))[0]
        self.assertIsNotNone(row["activity"], "the run kept no activity log")
        return json.loads(row["activity"])


class RestActivityTest(ActivityTestCase):
    def test_pages_waits_retries_and_phases_are_logged_in_order(self):
        self.up.fault("429", path=PATIENTS, page=2, retry_after=2)
        self.up.fault("status", path=PATIENTS, page=3, status=500)
        self.use_style("next_link", "retries: 3\n")
        _, err = self.sync("patients")
        self.assertRegex(err, r"progress run=1 phase=done percent=100 rows=250 fetched=250 ")
        run = self.last_run()
        got = kinds_and_texts(self.stored_activity(run["id"]))
        host = "127.0.0.1:%d" % self.up.port
        page = [t for k, t in got if k == "page"]
        self.assertEqual(len(page), 3, got)
        self.assertRegex(page[0], r"^page 1: 100 records, \d+ bytes$")
        self.assertRegex(page[2], r"^page 3: 50 records, \d+ bytes$")
        wait = [t for k, t in got if k == "wait"]
        self.assertEqual(len(wait), 1, got)
        self.assertRegex(wait[0], r"^rate limited: waiting until \d\d:\d\d:\d\d UTC$")
        # The order: what happened first comes first.
        order = [("phase", "connecting"), ("connected", "connected to %s (HTTP 200)" % host),
                 ("page", page[0]), ("phase", "fetching"),
                 ("retry", "page 2: HTTP 429 (rate limited), retry 1 of 3"), ("wait", wait[0]),
                 ("page", page[1]), ("retry", "page 3: HTTP 500, retry 1 of 3"),
                 ("page", page[2]), ("phase", "applying"), ("phase", "committing"),
                 ("phase", "done: succeeded")]
        self.assertEqual(got, order)
        for _, text in got:
            self.assertNotIn(QUERY_SECRET, text)
            self.assertNotIn("api_key", text)
        # The size is the page bodies' bytes as the log counted them.
        sizes = sum(int(t.split(", ")[1].split()[0]) for t in page)
        self.assertEqual((run["source_bytes"], run["source_records"]), (sizes, N))
        _, out, _ = self.run_ferry("show", str(run["id"]))
        self.assertIn("source:    %d bytes, %d records" % (sizes, N), out)
        self.assertIn("Activity:", out)
        self.assertIn("page 3: HTTP 500, retry 1 of 3", out)

    def test_a_long_log_keeps_its_first_and_last_entries(self):
        # 250 pages of one record: 256 entries, 200 kept.
        path, source = STYLES["next_link"]
        self.write_config(rest_yaml(self.up.url(path),
                                    source.replace("per_page: 100", "per_page: 1"), FIELDS))
        self.sync("patients")
        run = self.last_run()
        activity = self.stored_activity(run["id"])
        self.assertEqual(len(activity), 20 + 1 + 180)
        got = kinds_and_texts(activity)
        self.assertEqual(got[0], ("phase", "connecting"))
        self.assertEqual(got[2][1].split(":")[0], "page 1")
        self.assertEqual(got[20], ("dropped", "56 entries left out"))
        self.assertEqual(got[-1], ("phase", "done: succeeded"))
        self.assertEqual(got[-4][1].split(":")[0], "page 250")
        self.assertEqual(run["source_records"], N)

    def test_a_failed_run_keeps_its_log_and_no_record_count(self):
        self.up.fault("status", path=PATIENTS, page=2, status=500, times=None)
        self.use_style("next_link", "retries: 1\n")
        self.sync("patients", expect=1)
        run = self.last_run()
        got = kinds_and_texts(self.stored_activity(run["id"]))
        self.assertIn(("retry", "page 2: HTTP 500, retry 1 of 1"), got)
        self.assertEqual(got[-1], ("phase", "done: failed"))
        self.assertIsNone(run["source_records"])
        self.assertGreater(run["source_bytes"], 0)  # page 1 was read


class CsvSourceSizeTest(ActivityTestCase):
    def test_a_csv_run_counts_its_bytes_and_records(self):
        rows = [[str(i), "First%d" % i] for i in range(1, 1001)]
        path = self.write_csv("patients.csv", ["id", "first_name"], rows)
        self.write_config("database: sqlite:ferry.db\nsyncs:\n  patients:\n"
                          "    source: { url: patients.csv }\n"
                          "    target: { table: patients, key: [id] }\n"
                          "    fields:\n      id: { type: integer }\n      first_name:\n")
        self.sync("patients")
        run = self.last_run()
        with open(path, "rb") as f:
            size = len(f.read())
        self.assertEqual((run["source_bytes"], run["source_records"]), (size, 1000))
        got = kinds_and_texts(self.stored_activity(run["id"]))
        self.assertEqual(got, [("phase", "connecting"), ("phase", "fetching"), ("phase", "applying"),
                               ("phase", "committing"), ("phase", "done: succeeded")])

    def test_a_remote_csv_logs_its_host_and_download_without_the_query(self):
        body = ferrytest.csv_text(["id", "first_name"], [[i, "First%d" % i] for i in range(1, 51)])
        url = self.server.route("/export/people.csv", body=body) + "?token=" + QUERY_SECRET
        self.write_config("database: sqlite:ferry.db\nallow_private: true\nsyncs:\n  patients:\n"
                          "    source: { url: \"%s\" }\n"
                          "    target: { table: patients, key: [id] }\n"
                          "    fields:\n      id: { type: integer }\n      first_name:\n" % url)
        self.sync("patients")
        run = self.last_run()
        got = kinds_and_texts(self.stored_activity(run["id"]))
        where = url.split("?")[0]
        size = len(body.encode("utf-8"))
        self.assertEqual(got[:4], [("phase", "connecting"), ("connected", "connected to " + where),
                                   ("phase", "fetching"), ("page", "downloaded %d bytes" % size)])
        self.assertNotIn(QUERY_SECRET, json.dumps(got))
        self.assertEqual((run["source_bytes"], run["source_records"]), (size, 50))


class LiveFetchTest(ActivityTestCase):
    def test_fetched_rises_page_by_page_and_activity_streams_live(self):
        release = threading.Event()
        self.addCleanup(release.set)
        self.up.fault("hold", path=PATIENTS, page=3, until=release)
        self.use_style("next_link")
        with self.serve() as srv:
            stream = srv.events()
            run_id = srv.start_run("patients")["id"]
            # While page 3 is held: two pages in, of the 250 the first page stated.
            held = srv.wait_run(run_id, lambda r: r["fetched"] == 200, what="to fetch 2 pages")
            self.assertEqual(held["status"], "running")
            self.assertEqual(held["phase"], "fetching")
            self.assertEqual((held["total"], held["total_estimated"]), (N, False))
            self.assertEqual(held["processed"], 0)
            # The ETA is the running phase's: the fetch's, from 200 of 250 records.
            self.assertIsNotNone(held["eta_seconds"])
            self.assertLess(held["percent"], 50)
            self.assertIsNone(held["source_records"])
            self.assertGreater(held["source_bytes"], 0)
            live = [e["text"] for e in held["activity"]]
            self.assertIn("page 2", live[-1])
            release.set()
            done = srv.wait_run(run_id)
            self.assertEqual(done["status"], "succeeded")
            self.assertEqual((done["fetched"], done["source_records"]), (N, N))
            events = stream.events_until(
                lambda e: e["event"] == "run.finished" and e["data"]["id"] == run_id)
        activity = [e["data"] for e in events if e["event"] == "run.activity"]
        self.assertEqual([a["n"] for a in activity], list(range(1, len(activity) + 1)))
        self.assertTrue(all(a["id"] == run_id and a["sync"] == "patients" for a in activity))
        self.assertEqual([(a["kind"], a["text"]) for a in activity],
                         kinds_and_texts(done["activity"]))
        # Progress events carry the count, not the log; the count never goes back.
        progress = [e["data"] for e in events if e["event"] == "run.progress"]
        self.assertTrue(progress)
        self.assertTrue(all("activity" not in p for p in progress))
        fetched = [p["fetched"] for p in progress]
        self.assertEqual(fetched, sorted(fetched))
        self.assertIn(200, fetched)
        finished = [e["data"] for e in events if e["event"] == "run.finished"][-1]
        self.assertEqual(finished["activity"], done["activity"])

    def test_a_link_header_last_page_gives_an_estimate(self):
        release = threading.Event()
        self.addCleanup(release.set)
        self.up.link_last = True
        self.up.fault("hold", path="/link_header/tickets", page=2, until=release)
        self.use_style("link_header")
        with self.serve() as srv:
            run_id = srv.start_run("patients")["id"]
            held = srv.wait_run(run_id, lambda r: r["fetched"] == 100, what="to fetch a page")
            # rel="last" names page 3; pages hold 100: about 300.
            self.assertEqual((held["total"], held["total_estimated"]), (300, True))
            release.set()
            done = srv.wait_run(run_id)
            self.assertEqual(done["status"], "succeeded")


class TenantRowsTest(RestTestCase):
    def test_the_sync_list_counts_each_tenants_rows(self):
        self.use_tenants()  # org-1 has 3 records, org-2 2
        with self.serve() as srv:
            sync = srv.get_json("/api/syncs")["syncs"][0]
            self.assertEqual(sync["tenant_rows"], {})  # no table yet
        self.sync("patients", "--tenant", "org-1")
        self.sync("patients", "--tenant", "org-2")
        self.up.delete_record(2, tenant="org-1")
        self.sync("patients", "--tenant", "org-1")  # on_missing: delete
        with self.serve() as srv:
            sync = srv.get_json("/api/syncs")["syncs"][0]
            self.assertEqual(sync["tenant_rows"], {"org-1": 2, "org-2": 2})

    def test_a_sync_without_tenants_has_no_tenant_rows(self):
        self.use_style("next_link")
        with self.serve() as srv:
            self.assertNotIn("tenant_rows", srv.get_json("/api/syncs")["syncs"][0])


if __name__ == "__main__":
    ferrytest.main()
