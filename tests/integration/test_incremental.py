#!/usr/bin/python3
"""test_incremental.py - incremental REST syncs (`incremental:` on a REST source,
docs/sources.md "Incremental syncs") against a loopback "incremental API".

The fake API serves tickets with an updated_at, answers only those changed at or after the
updated_since (or since) it is sent, pages with a Link header that leaves updated_since out
(so Ferry must add it to every page itself), and records the value each page request carried.
The tests run the real `ferry sync` and check, across runs: the first run is full (nothing
sent), the next sends the watermark minus the overlap on every page, a failed run leaves the
watermark where it was, --full and full_every fetch everything (and on_missing acts only
then), epoch seconds and {since} in the URL, and the bad cursors that fail a run before
anything is written.
"""

import datetime
import threading

import ferrytest
from fake_json_api import Fake

T0 = datetime.datetime(2026, 12, 6, 9, 0, 0, tzinfo=datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_since(v):
    if v.isdigit():
        return datetime.datetime.fromtimestamp(int(v), datetime.timezone.utc)
    return datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class IncrementalApi:
    """GET /tickets?per_page=N[&page=P][&updated_since=ISO]; GET /epoch/tickets?since=S.
    tickets: id -> record (updated_at as the API writes it). fail_page: the page number that
    answers 500. sent: (page, updated_since or None) per request."""

    def __init__(self):
        self.tickets = {}
        self.sent = []
        self.fail_page = None
        self.lock = threading.Lock()
        self.fake = Fake(lambda handler, path, q: self.answer(path, q))

    def close(self):
        self.fake.close()

    def url(self, path):
        return self.fake.base_url + path

    def put(self, i, updated, **extra):
        rec = {"id": i, "subject": "Ticket %d" % i, "updated_at": updated}
        rec.update(extra)
        self.tickets[i] = rec

    def answer(self, path, q):
        page = int(q.get("page", "1"))
        since = q.get("updated_since") if path == "/tickets" else q.get("since")
        with self.lock:
            self.sent.append((page, since))
            if self.fail_page == page:
                return 500, [], {"error": "down"}
            rows = sorted(self.tickets.values(), key=lambda r: r["id"])
        if since is not None:
            cut = parse_since(since)
            rows = [r for r in rows if not isinstance(r.get("updated_at"), str)
                    or r["updated_at"][:4] != "2026"
                    or parse_since(r["updated_at"][:19] + "Z") >= cut]
        per = int(q.get("per_page", "2"))
        chunk = rows[(page - 1) * per: page * per]
        headers = []
        if page * per < len(rows):
            # /tickets: the link keeps per_page but not the filter (Ferry adds updated_since
            # again); /epoch/tickets keeps since, as most APIs do.
            keep = "&since=%s" % since if path != "/tickets" and since is not None else ""
            headers.append(("Link", '<%s?per_page=%d&page=%d%s>; rel="next"' % (
                self.url(path), per, page + 1, keep)))
        return 200, headers, {"tickets": chunk}

    def take_sent(self):
        with self.lock:
            sent, self.sent = self.sent, []
        return sent


def config(url, incremental, on_missing="keep", extra=""):
    return """\
database: sqlite:ferry.db
allow_private: true
syncs:
  tickets:
    source:
      kind: rest
      url: "%s"
      query: { per_page: 2 }
      records: /tickets
      pagination: { style: link_header }
      retries: 0
      retry_backoff: 100ms
      incremental: %s
%s    target: { table: tickets, key: id, on_missing: %s }
    fields:
      id:         { type: integer }
      subject:    { required: true }
      updated_at:
""" % (url, incremental, extra, on_missing)


class IncrementalTestCase(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.api = IncrementalApi()
        self.addCleanup(self.api.close)
        for i in range(1, 6):
            self.api.put(i, iso(T0 + datetime.timedelta(hours=i)))

    def use(self, incremental="{ cursor: /updated_at, param: updated_since, overlap: 5m }",
            on_missing="keep", path="/tickets", extra=""):
        self.write_config(config(self.api.url(path), incremental, on_missing, extra))

    def last_run(self):
        return self.query_dicts("SELECT * FROM ferry_runs ORDER BY id DESC LIMIT 1")[0]

    def watermark(self):
        rows = self.query_dicts("SELECT cursor_ms, run_id FROM ferry_watermarks"
                                " WHERE sync = 'tickets'")
        return rows[0] if rows else None

    def table(self):
        return self.query("SELECT id, subject FROM tickets ORDER BY id")


class RunsTest(IncrementalTestCase):
    def test_first_run_is_full_and_the_next_sends_the_watermark_minus_the_overlap_on_every_page(self):
        self.use()
        self.sync("tickets")
        self.assertEqual(self.api.take_sent(), [(1, None), (2, None), (3, None)])
        run = self.last_run()
        self.assertEqual((run["status"], run["run_mode"], run["since"]),
                         ("succeeded", "full", None))
        self.assertIn("Mode: full.", run["ui_message"])
        newest = T0 + datetime.timedelta(hours=5)
        self.assertEqual(self.watermark()["cursor_ms"], int(newest.timestamp()) * 1000)

        # Tickets 4 and 5 change (5 to the newest time); 1-3 do not.
        self.api.put(4, iso(newest + datetime.timedelta(minutes=30)), subject="Four")
        self.api.put(6, iso(newest + datetime.timedelta(minutes=40)))
        self.sync("tickets")
        since = iso(newest - datetime.timedelta(minutes=5))
        sent = self.api.take_sent()
        self.assertEqual(sent, [(1, since), (2, since)])  # 4, 5, 6 in two pages
        run = self.last_run()
        self.assertEqual((run["run_mode"], run["since"]), ("incremental", since))
        self.assertIn("Mode: incremental since 2026-12-06 13:55 UTC.", run["ui_message"])
        self.assertIn("Processed 3 tickets: 1 created, 1 updated, 1 unchanged", run["ui_message"])
        self.assertEqual(self.table()[3], (4, "Four"))
        self.assertEqual(len(self.table()), 6)
        self.assertEqual(self.watermark()["cursor_ms"],
                         int((newest + datetime.timedelta(minutes=40)).timestamp()) * 1000)
        # ferry show says which it was.
        code, out, _ = self.run_ferry("show", str(run["id"]))
        self.assertEqual(code, 0)
        self.assertIn("mode:      incremental since 2026-12-06 13:55:00 UTC", out)

    def test_an_incremental_run_with_nothing_new_succeeds_and_keeps_the_watermark(self):
        self.use()
        self.sync("tickets")
        before = self.watermark()
        self.api.tickets.clear()
        self.sync("tickets")
        self.assertEqual(self.last_run()["status"], "succeeded")
        self.assertEqual(self.watermark()["cursor_ms"], before["cursor_ms"])
        self.assertEqual(len(self.table()), 5)

    def test_a_failed_run_does_not_move_the_watermark(self):
        self.use()
        self.sync("tickets")
        first = self.watermark()
        self.api.take_sent()
        for i in range(6, 10):
            self.api.put(i, iso(T0 + datetime.timedelta(days=1, hours=i)))
        self.api.fail_page = 2
        self.sync("tickets", expect=1)
        self.assertEqual(self.last_run()["status"], "failed")
        self.assertEqual(self.watermark(), first)
        sent = self.api.take_sent()
        self.api.fail_page = None
        self.sync("tickets")
        # The run after the failure asks for the same window.
        self.assertEqual(self.api.take_sent()[0], sent[0])
        self.assertEqual(len(self.table()), 9)

    def test_an_approved_held_run_applies_its_snapshot_and_moves_the_watermark(self):
        # The approval asks the API for nothing: it replays the records the held run fetched,
        # and keeps their highest cursor as the watermark.
        self.use(extra="    guard: { max_failed: 0 }\n")
        self.sync("tickets")
        self.api.put(8, iso(T0 + datetime.timedelta(days=2)), subject="")
        self.api.put(9, iso(T0 + datetime.timedelta(days=3)))
        self.sync("tickets", expect=3)
        held = self.last_run()
        self.api.take_sent()
        self.api.put(10, iso(T0 + datetime.timedelta(days=4)))
        code, out, err = self.run_ferry("approve", str(held["id"]))
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.api.take_sent(), [])
        run = self.last_run()
        self.assertEqual((run["id"], run["status"], run["failed"]), (held["id"], "succeeded", 1))
        self.assertEqual(len(self.table()), 6)  # 9 landed; 8 failed; 10 came after the review
        self.assertEqual(self.watermark()["cursor_ms"],
                         int((T0 + datetime.timedelta(days=3)).timestamp()) * 1000)

    def test_a_run_held_after_fetching_everything_does_not_move_the_watermark(self):
        # guard.max_failed 0: a ticket without a subject holds the run after the fetch, in the
        # apply, so its rows and the watermark roll back together; rejected, it leaves both.
        self.use(extra="    guard: { max_failed: 0 }\n")
        self.sync("tickets")
        first = self.watermark()
        self.api.put(8, iso(T0 + datetime.timedelta(days=2)), subject="")
        self.api.put(9, iso(T0 + datetime.timedelta(days=3)))
        self.sync("tickets", expect=3)
        held = self.last_run()
        self.assertEqual(held["status"], "held")
        self.assertEqual(self.watermark(), first)
        self.assertEqual(len(self.table()), 5)
        code, _, err = self.run_ferry("reject", str(held["id"]))
        self.assertEqual(code, 0, err)
        self.assertEqual(self.watermark(), first)
        self.api.take_sent()
        self.api.tickets[8]["subject"] = "Eight"
        self.sync("tickets")
        since = iso(T0 + datetime.timedelta(hours=5, minutes=-5))
        self.assertEqual({s for _, s in self.api.take_sent()}, {since})
        self.assertEqual(len(self.table()), 7)

    def test_on_missing_acts_only_on_full_runs_and_full_fetches_everything(self):
        self.use(on_missing="delete")
        self.sync("tickets")
        self.api.take_sent()
        del self.api.tickets[2]
        out, _ = self.sync("tickets")
        self.assertEqual(len(self.table()), 5)  # the incremental run deleted nothing
        self.assertIn("on_missing was not applied: an incremental run",
                      self.last_run()["log_message"])
        self.assertTrue(all(s is not None for _, s in self.api.take_sent()))
        self.sync("tickets", "--full")
        self.assertEqual(self.api.take_sent(), [(1, None), (2, None)])
        run = self.last_run()
        self.assertEqual((run["run_mode"], run["deleted"], run["full_requested"]),
                         ("full", 1, 1 if not ferrytest.ON_POSTGRES else True))
        self.assertEqual([r[0] for r in self.table()], [1, 3, 4, 5])

    def test_full_every_elapsed_makes_a_full_run(self):
        self.use("{ cursor: /updated_at, param: updated_since, full_every: 7d }")
        self.sync("tickets")
        self.sync("tickets")
        self.api.take_sent()
        self.assertEqual(self.last_run()["run_mode"], "incremental")
        self.db_exec("UPDATE ferry_watermarks SET full_at = '2026-11-01T00:00:00.000Z'")
        self.sync("tickets")
        self.assertEqual(self.last_run()["run_mode"], "full")
        self.assertEqual(self.api.take_sent(), [(1, None), (2, None), (3, None)])
        self.sync("tickets")
        self.assertEqual(self.last_run()["run_mode"], "incremental")

    def test_epoch_seconds_in_a_since_placeholder(self):
        self.use("{ cursor: /updated_at, format: epoch }", path="/epoch/tickets?since={since}")
        self.sync("tickets")
        self.assertEqual({s for _, s in self.api.take_sent()}, {"0"})  # full: the epoch
        self.sync("tickets")
        newest = int((T0 + datetime.timedelta(hours=5)).timestamp())
        self.assertEqual({s for _, s in self.api.take_sent()}, {str(newest)})

    def test_cursors_written_as_numbers_and_with_offsets_compare_as_instants(self):
        self.api.tickets.clear()
        newest = T0 + datetime.timedelta(hours=3)
        self.api.put(1, int(T0.timestamp()))
        self.api.put(2, "2026-12-06T13:00:00+01:00")  # 12:00 UTC: the newest
        self.api.put(3, "2026-12-06T11:30:00.750Z")
        self.use("{ cursor: /updated_at, param: updated_since }")
        self.sync("tickets")
        self.assertEqual(self.watermark()["cursor_ms"], int(newest.timestamp()) * 1000)


class ScopeTest(IncrementalTestCase):
    def test_each_tenant_has_its_own_watermark(self):
        self.write_config(config(self.api.url("/tickets?org={org_id}"),
                                 "{ cursor: /updated_at, param: updated_since }",
                                 extra="    tenant: { variable: org_id, column: org,"
                                       " values: [org-1, org-2] }\n"))
        self.sync("tickets", "--tenant", "org-1")
        self.sync("tickets", "--tenant", "org-2")
        self.assertEqual([r["run_mode"] for r in self.query_dicts(
            "SELECT run_mode FROM ferry_runs ORDER BY id")], ["full", "full"])
        self.api.take_sent()
        self.sync("tickets", "--tenant", "org-1")
        self.assertEqual(self.last_run()["run_mode"], "incremental")
        self.assertTrue(all(s is not None for _, s in self.api.take_sent()))
        self.assertEqual(self.query("SELECT tenant FROM ferry_watermarks ORDER BY tenant"),
                         [("org-1",), ("org-2",)])

    def test_each_step_has_its_own_watermark(self):
        self.api.put(9, iso(T0 + datetime.timedelta(days=9)))
        self.write_config("""\
database: sqlite:ferry.db
allow_private: true
syncs:
  helpdesk:
    steps:
      tickets:
        source:
          kind: rest
          url: "%s"
          records: /tickets
          incremental: { cursor: /updated_at, param: updated_since }
        target: { table: tickets, key: id }
        fields: { id: { type: integer }, subject: }
      agents:
        source:
          kind: rest
          url: "%s"
          records: /tickets
          incremental: { cursor: /updated_at, format: epoch }
        target: { table: agents, key: id }
        fields: { id: { type: integer }, subject: }
""" % (self.api.url("/tickets?per_page=50"), self.api.url("/epoch/tickets?per_page=50&since={since}")))
        self.sync("helpdesk")
        self.assertEqual(self.api.take_sent(), [(1, None), (1, "0")])
        self.sync("helpdesk")
        newest = T0 + datetime.timedelta(days=9)
        self.assertEqual(self.api.take_sent(),
                         [(1, iso(newest)), (1, str(int(newest.timestamp())))])
        self.assertEqual(self.query("SELECT step, run_id FROM ferry_watermarks"
                                    " WHERE sync = 'helpdesk' ORDER BY step"), [(0, 2), (1, 2)])


class BadInputTest(IncrementalTestCase):
    def test_records_without_the_cursor_still_sync_and_the_others_set_the_watermark(self):
        self.api.tickets[2].pop("updated_at")
        self.api.tickets[5]["updated_at"] = None
        self.use()
        self.sync("tickets")
        self.assertEqual(len(self.table()), 5)
        self.assertEqual(self.watermark()["cursor_ms"],
                         int((T0 + datetime.timedelta(hours=4)).timestamp()) * 1000)

    def test_no_record_with_the_cursor_fails_the_run_and_writes_nothing(self):
        for r in self.api.tickets.values():
            r.pop("updated_at")
        self.use()
        _, err = self.sync("tickets", expect=1)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        self.assertIn("none of the 5 records", run["error"])
        self.assertIn("/updated_at", run["error"])
        self.assertIsNone(self.watermark())
        self.assertEqual(self.query("SELECT count(*) FROM ferry_runs WHERE status = 'succeeded'"),
                         [(0,)])

    def test_a_cursor_that_is_no_date_fails_the_run_naming_the_record_and_value(self):
        self.use()
        self.sync("tickets")
        self.api.put(7, "yesterday")  # fetched second, after ticket 5
        self.sync("tickets", expect=1)
        run = self.last_run()
        self.assertIn("record 2: the cursor /updated_at (incremental.cursor) is '\"yesterday\"'",
                      run["error"])
        self.assertEqual(len(self.table()), 5)  # ticket 7 not written

    def test_config_errors(self):
        cases = [
            ("{ cursor: /updated_at }", "/tickets", "needs param:"),
            ("{ cursor: /updated_at, param: x, overlap: 5 parsecs }", "/tickets", "overlap"),
            ("{ cursor: /updated_at, param: x, full_every: often }", "/tickets", "full_every"),
            ("{ cursor: /updated_at, param: x, format: rfc }", "/tickets", "format"),
            ("{ param: x }", "/tickets", "cursor"),
            ("{ cursor: /updated_at, param: x }", "/tickets?a={since}x", None),
        ]
        for inc, path, want in cases:
            self.use(inc, path=path)
            code, out, err = self.run_ferry("check", "tickets")
            if want is None:
                self.assertNotIn("incremental", err)
                continue
            self.assertEqual(code, 2, err)
            self.assertIn("syncs.tickets.source.incremental", err)
            self.assertIn(want, err)
        # {since} without incremental: names no variable.
        self.write_config(config(self.api.url("/tickets?s={since}"), "x").replace(
            "      incremental: x\n", ""))
        code, _, err = self.run_ferry("check", "tickets")
        self.assertEqual(code, 2)
        self.assertIn("{since} is for incremental sources", err)
        # On a CSV source.
        self.write_file("t.csv", "id,subject\n1,a\n")
        self.write_config("""\
database: sqlite:ferry.db
syncs:
  tickets:
    source: { url: t.csv, incremental: { cursor: /updated_at, param: x } }
    target: { table: tickets, key: id }
    fields: { id: { type: integer }, subject: }
""")
        code, _, err = self.run_ferry("check", "tickets")
        self.assertEqual(code, 2)
        self.assertIn("'incremental' is for REST sources", err)


class ApiTest(IncrementalTestCase):
    def test_full_true_in_the_start_request_makes_a_full_run_and_the_run_says_so(self):
        self.use()
        self.sync("tickets")
        self.api.take_sent()
        with self.serve() as srv:
            r = srv.post("/api/syncs/tickets/runs", {"full": "yes"})
            self.assertEqual(r.status, 400)
            run = srv.start_run("tickets")
            done = srv.wait_run(run["id"])
            self.assertEqual((done["mode"], done["full"]), ("incremental", False))
            self.assertEqual(done["since"], iso(T0 + datetime.timedelta(hours=5, minutes=-5)))
            r = srv.post("/api/syncs/tickets/runs", {"full": True})
            self.assertEqual(r.status, 202)
            done = srv.wait_run(r.json["id"])
            self.assertEqual((done["mode"], done["full"], done["since"]), ("full", True, None))
        sent = self.api.take_sent()
        self.assertEqual(sent[-3:], [(1, None), (2, None), (3, None)])


if __name__ == "__main__":
    ferrytest.main()
