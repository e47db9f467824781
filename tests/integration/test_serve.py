"""`ferry serve`: the HTTP API, the event stream and the worker pool, through real sockets.

Each test starts `ferry serve --listen 127.0.0.1:0` in its own directory (FerryTestCase.serve()
reads the port from the 'listening' line and waits for /healthz) and stops it with SIGINT at
the end, expecting exit status 0 within 10 s and no sanitizer report. A run is kept active for
as long as a test needs by a slow source: the loopback HTTP server drips the CSV (with its
Content-Length, so ferry knows the percent) a few KiB at a time, about 4 s in all. Requests
carry the admin token serve() made (Authorization: Bearer); the raw ones here add it too.
"""

import json
import socket
import threading
import time

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
SLOW_ROWS = 3000
SLOW_SECONDS = 4.0
# Rows whose apply takes well over the 250 ms between progress reports, on any machine.
APPLY_ROWS = 300000


def summary(n, created=0, updated=0, unchanged=0, skipped=0, failed=0, noun="people"):
    return ("Processed %d %s: %d created, %d updated, %d unchanged, %d skipped, %d failed."
            % (n, noun, created, updated, unchanged, skipped, failed))


def renamed_rows(n):
    """people_rows(n) with every name changed: a run of these would update every row."""
    return [[i, "Renamed " + name, email] for i, name, email in people_rows(n)]


class ServeTestCase(ferrytest.FerryTestCase):
    def slow_route(self, path, rows, seconds=SLOW_SECONDS):
        """A route that drips rows as CSV over about seconds seconds."""
        body = csv_text(HEADER, rows).encode()
        pieces = 40
        return self.server.route(path, body=body, drip_bytes=len(body) // pieces + 1,
                                 drip_pause=seconds / pieces)

    def fast_route(self, path, rows):
        return self.server.route(path, body=csv_text(HEADER, rows))

    def wait_applying(self, srv, run_id):
        """Waits until the worker reports the run under way: fetching the slow source (the
        database's write lock is not taken before the whole source is here) with some of it
        received; returns the live run JSON."""
        return srv.wait_run(run_id, lambda r: r["status"] == "running" and
                            r["phase"] in ("fetching", "applying") and r["percent"] > 0,
                            timeout=10, what="to fetch part of the source")

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.header("Content-Type"), "application/json", r)
        self.assertIsNotNone(r.json, r)
        self.assertEqual(set(r.json), {"error"}, r)
        self.assertEqual(set(r.json["error"]), {"code", "message"}, r)
        self.assertEqual(r.json["error"]["code"], code, r)
        self.assertIsInstance(r.json["error"]["message"], str)
        self.assertTrue(r.json["error"]["message"], r)
        return r.json["error"]["message"]

    def run_count(self):
        return self.query("SELECT count(*) FROM ferry_runs")[0][0]


class HealthAndSyncsTest(ServeTestCase):
    def test_healthz_answers_ok_with_the_database(self):
        self.write_config({"t": sync_config("people.csv")})
        with self.serve() as srv:
            r = srv.get("/healthz")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.header("Content-Type"), "application/json")
            self.assertEqual((r.json["status"], r.json["database"]), ("ok", "ok"))
            self.assertEqual(r.json["busy_workers"], 0)

    def test_syncs_lists_every_sync_with_its_latest_and_active_run(self):
        team = sync_config("people.csv", title="Team roster")
        # A cron time far off: an 'every' schedule would run at once and race the test.
        team["schedule"] = 'cron "0 0 1 1 *"'
        self.write_config({"team": team, "other": sync_config("other.csv", table="other")})
        self.write_csv("people.csv", HEADER, people_rows(2))
        with self.serve() as srv:
            syncs = srv.get_json("/api/syncs")["syncs"]
            self.assertEqual([s["name"] for s in syncs], ["team", "other"])
            expected = {"team": ("Team roster", 'cron "0 0 1 1 *"'), "other": ("other", None)}
            for s in syncs:
                self.assertEqual((s["title"], s["schedule"]), expected[s["name"]])
                self.assertEqual(s["source_kind"], "csv")
                self.assertIsNone(s["latest_run"], s)
                self.assertIsNone(s["active_run"], s)

            # The scheduler looks within a second of start; a busy machine may delay it.
            deadline = time.monotonic() + 30
            while syncs[0]["next_run_at"] is None and time.monotonic() < deadline:
                time.sleep(0.05)
                syncs = srv.get_json("/api/syncs")["syncs"]
            self.assertRegex(syncs[0]["next_run_at"] or "", r"^\d{4}-01-01T00:00:00")
            self.assertIsNone(syncs[1]["next_run_at"])

            run = srv.run_to_end("team")
            syncs = {s["name"]: s for s in srv.get_json("/api/syncs")["syncs"]}
            latest = syncs["team"]["latest_run"]
            self.assertEqual((latest["id"], latest["status"], latest["ui_message"]),
                             (run["id"], "succeeded", summary(2, created=2)))
            self.assertIsNone(syncs["team"]["active_run"])
            self.assertIsNone(syncs["other"]["latest_run"])
            self.assertIsNone(syncs["other"]["active_run"])


class RunTest(ServeTestCase):
    def test_post_run_answers_202_at_once_and_the_run_succeeds(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", HEADER, people_rows(3))
        with self.serve() as srv:
            t0 = time.monotonic()
            r = srv.post("/api/syncs/t/runs")
            self.assertLess(time.monotonic() - t0, 0.5)
            self.assertEqual(r.status, 202, r)
            self.assertEqual((r.json["status"], r.json["message"], r.json["sync"],
                              r.json["trigger"], r.json["attempt"]),
                             ("queued", "Sync started...", "t", "api", 1))
            self.assertIsInstance(r.json["id"], int)

            run = srv.wait_run(r.json["id"])
            self.assertEqual(run["status"], "succeeded", run)
            self.assertEqual(run["ui_message"], summary(3, created=3))
            self.assertEqual((run["counts"]["created"], run["processed"], run["percent"],
                              run["phase"]), (3, 3, 100, "done"))
            self.assertIsNotNone(run["finished_at"])
            self.assertEqual(self.table_rows("people"), [tuple(p) for p in people_rows(3)])
            stored = self.last_run()
            self.assertEqual((stored["id"], stored["status"], stored["trigger"]),
                             (run["id"], "succeeded", "api"))

    def test_double_click_names_the_active_run_and_queues_no_second_one(self):
        self.write_config({"t": sync_config(self.slow_route("/slow.csv", people_rows(SLOW_ROWS)))})
        with self.serve() as srv:
            first = srv.post("/api/syncs/t/runs")
            again = srv.post("/api/syncs/t/runs")
            self.assertEqual(first.status, 202, first)
            self.assertEqual(again.status, 200, again)
            run_id = first.json["id"]
            self.assertEqual(again.json["id"], run_id)
            self.assertEqual(again.json["message"], "Sync already in progress...")
            self.assertIn(again.json["status"], ("queued", "running"))

            # Twenty more, at once, while the run holds its write transaction.
            self.wait_applying(srv, run_id)
            answers = []

            def click():
                t0 = time.monotonic()
                r = srv.post("/api/syncs/t/runs", timeout=15)
                answers.append((r.status, r.json and r.json.get("id"), time.monotonic() - t0))
            threads = [threading.Thread(target=click) for _ in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=20)
            self.assertEqual(len(answers), 20, answers)
            self.assertEqual({(status, rid) for status, rid, _ in answers}, {(200, run_id)})
            slowest = max(dt for _, _, dt in answers)
            self.assertLess(slowest, 1.0, "a click waited for the running run")
            self.assertEqual(self.query("SELECT id, status FROM ferry_runs"),
                             [(run_id, "running")])
        # Stopping (SIGINT) rolled it back and queued it again for the next server; no click
        # left a second run queued behind it.
        self.assertEqual(self.query("SELECT id, status FROM ferry_runs"), [(run_id, "queued")])

    def test_get_run_while_running_shows_the_workers_live_progress(self):
        self.write_config({"t": sync_config(self.slow_route("/slow.csv", people_rows(SLOW_ROWS)))})
        with self.serve() as srv:
            run_id = srv.start_run("t")["id"]
            live = self.wait_applying(srv, run_id)
            self.assertEqual((live["status"], live["phase"]), ("running", "fetching"), live)
            self.assertGreater(live["percent"], 0, live)
            self.assertLess(live["percent"], 50, live)  # the download is the first half
            self.assertIsInstance(live["rows_per_second"], int, live)  # only a live run has it
            self.assertIsNotNone(live["started_at"])
            # The stored row still says what the claim wrote: the answer came from the worker.
            stored = self.last_run()
            self.assertEqual((stored["status"], stored["phase"], stored["processed"]),
                             ("running", "connecting", 0))
            later = srv.wait_run(run_id, lambda r: r["percent"] > live["percent"],
                                 timeout=5, what="to fetch more of the source")
            self.assertIn(later["status"], ("running", "succeeded"))
            self.assertGreaterEqual(later["percent"], live["percent"])

            active = {s["name"]: s for s in srv.get_json("/api/syncs")["syncs"]}["t"]["active_run"]
            if active is not None:
                self.assertEqual((active["id"], active["status"]), (run_id, "running"))
            done = srv.wait_run(run_id)
            self.assertEqual((done["status"], done["percent"], done["processed"]),
                             ("succeeded", 100, SLOW_ROWS))

    def test_a_remote_csv_moves_through_the_download_then_the_apply(self):
        """The percent rises in both phases: the download is the first half (bytes of the
        stated length), the apply the second (bytes of the saved download parsed). Once it
        showed 0% while downloading and 99% for the whole apply: progress still compared the
        bytes received with the Content-Length after the download had been saved."""
        rows = people_rows(APPLY_ROWS)
        self.write_config({"t": sync_config(self.slow_route("/big.csv", rows, seconds=3.0))})
        with self.serve() as srv:
            stream = srv.events("?sync=t")
            run_id = srv.start_run("t")["id"]
            events = stream.events_until(
                lambda e: e["event"] == "run.finished" and e["data"]["id"] == run_id,
                timeout=180)
            self.assertEqual(events[-1]["event"], "run.finished", [e["event"] for e in events])
            seen = [(e["data"]["phase"], e["data"]["percent"]) for e in events
                    if e["event"] == "run.progress" and e["data"]["id"] == run_id]
            fetching = [p for phase, p in seen if phase == "fetching"]
            applying = [p for phase, p in seen if phase == "applying"]
            self.assertTrue(any(0 < p < 50 for p in fetching), seen)
            self.assertTrue(any(50 <= p < 95 for p in applying), seen)
            percents = [p for _, p in seen]
            self.assertEqual(percents, sorted(percents), "the percent never goes back")
            self.assertEqual(events[-1]["data"]["percent"], 100)

    def test_nodes_lists_this_server_and_the_run_it_executes(self):
        self.write_config({"t": sync_config(self.slow_route("/slow.csv", people_rows(SLOW_ROWS)))})
        with self.serve() as srv:
            run_id = srv.start_run("t")["id"]
            live = self.wait_applying(srv, run_id)
            self.assertTrue(live["node"].endswith(":%d" % srv.proc.pid), live)
            nodes = srv.get_json("/api/nodes")
            self.assertEqual(nodes["self"], live["node"])
            self.assertEqual([n["id"] for n in nodes["nodes"]], [live["node"]])
            me = nodes["nodes"][0]
            self.assertTrue(me["self"])
            self.assertEqual((me["workers"], me["busy"]), (4, 1))
            self.assertEqual([r["id"] for r in me["runs"]], [run_id])
            self.assertEqual(nodes["runs_without_live_node"], [])
            done = srv.wait_run(run_id)
            self.assertIsNone(done["node"])
            self.assertEqual(srv.get_json("/api/nodes")["nodes"][0]["busy"], 0)

    def test_a_slow_source_does_not_make_other_clicks_wait(self):
        self.write_config({"t": sync_config(self.slow_route("/slow.csv", people_rows(SLOW_ROWS))),
                           "u": sync_config(self.fast_route("/fast.csv", people_rows(3)),
                                            table="others")})
        with self.serve() as srv:
            run_id = srv.start_run("t")["id"]
            self.wait_applying(srv, run_id)
            started = time.monotonic()
            other = srv.start_run("u")
            self.assertLess(time.monotonic() - started, 1.0, "a click waited for a slow run")
            self.assertEqual(srv.wait_run(other["id"])["status"], "succeeded")
            self.assertEqual(srv.get_json("/api/runs/%d" % run_id)["status"], "running")


class CancelTest(ServeTestCase):
    def test_cancel_rolls_a_running_run_back_and_refuses_ended_or_unknown_runs(self):
        self.write_config({"t": sync_config(self.fast_route("/people.csv", people_rows(5)),
                                            on_missing="delete")})
        with self.serve() as srv:
            done = srv.run_to_end("t")
            before = self.table_rows("people")
            self.assertEqual(len(before), 5)

            self.slow_route("/people.csv", renamed_rows(SLOW_ROWS))
            run_id = srv.start_run("t")["id"]
            self.wait_applying(srv, run_id)
            t0 = time.monotonic()
            r = srv.post("/api/runs/%d/cancel" % run_id)
            self.assertEqual(r.status, 202, r)
            self.assertEqual((r.json["id"], r.json["message"]), (run_id, "Cancelling..."))
            run = srv.wait_run(run_id, timeout=5)
            self.assertLess(time.monotonic() - t0, 3, "the cancel took too long")
            self.assertEqual(run["status"], "cancelled", run)
            self.assertEqual(run["ui_message"], "Sync of t was cancelled. Nothing was changed.")
            self.assertEqual(set(run["counts"].values()), {0})
            self.assertEqual(self.table_rows("people"), before)
            self.assertEqual(srv.get_json("/api/runs/%d/changes" % run_id)["changes"], [])

            for ended in (run_id, done["id"]):
                r = srv.post("/api/runs/%d/cancel" % ended)
                self.assertIn("finished", self.assert_error(r, 409, "not_active"))
            self.assert_error(srv.post("/api/runs/999/cancel"), 404, "not_found")
            self.assertEqual(srv.get_json("/api/runs/%d" % run_id)["status"], "cancelled")


class EventsTest(ServeTestCase):
    def setUp(self):
        super().setUp()
        self.write_config({"t": sync_config("people.csv"),
                           "other": sync_config("other.csv", table="other")})
        self.write_csv("people.csv", HEADER, people_rows(3))
        self.write_csv("other.csv", HEADER, people_rows(2))

    def read_run(self, stream, run_id):
        """The events of run_id up to its run.finished (checked to come within 10 s)."""
        events = stream.events_until(
            lambda e: e["event"] == "run.finished" and e["data"]["id"] == run_id)
        self.assertTrue(events and events[-1]["event"] == "run.finished",
                        "no run.finished for run %d; got %r" % (run_id, events))
        return events

    def assert_run_events(self, events, run_id, sync, ui_message):
        # run.queued is published before the queued run can be claimed, so it always comes
        # before run.started (whichever of the workers claims it, and whenever).
        types = [e["event"] for e in events]
        self.assertEqual(types[:2], ["run.queued", "run.started"], types)
        # Between them: progress, and the run's activity log entry by entry.
        self.assertEqual(set(types[2:-1]) - {"run.progress", "run.activity"}, set(), types)
        self.assertIn("run.activity", types)
        self.assertEqual(types[-1], "run.finished")
        ids = [e["id"] for e in events]
        self.assertEqual(ids, sorted(set(ids)), "ids must increase: %r" % ids)
        for e in events:
            self.assertEqual((e["data"]["id"], e["data"]["sync"]), (run_id, sync), e)
        want = {"run.queued": "queued", "run.started": "running", "run.progress": "running"}
        for e in events[:-1]:
            if e["event"] == "run.activity":  # an entry of the run's log, not the run
                self.assertEqual(set(e["data"]), {"id", "sync", "tenant", "n", "at", "kind", "text"})
                continue
            self.assertEqual(e["data"]["status"], want[e["event"]], e)
        finished = events[-1]["data"]
        self.assertEqual((finished["status"], finished["ui_message"]), ("succeeded", ui_message))

    def test_events_stream_a_run_in_order_and_filter_by_sync(self):
        with self.serve() as srv:
            stream = srv.events()
            other_only = srv.events("?sync=other")
            run_id = srv.start_run("t")["id"]
            events = self.read_run(stream, run_id)
            self.assert_run_events(events, run_id, "t", summary(3, created=3))

            # The filtered stream got none of it; its first event is the other sync's.
            other_id = srv.start_run("other")["id"]
            got = self.read_run(other_only, other_id)
            self.assert_run_events(got, other_id, "other", summary(2, created=2, noun="other"))
            self.assertGreater(got[0]["id"], events[-1]["id"])

    def test_last_event_id_replays_the_events_after_it(self):
        with self.serve() as srv:
            stream = srv.events()
            first = srv.start_run("t")["id"]
            old = self.read_run(stream, first)
            self.assertGreaterEqual(len(old), 3)
            after = old[1]["id"]  # run.started

            replay = srv.events(headers={"Last-Event-ID": str(after)})
            replayed = self.read_run(replay, first)
            self.assertEqual([(e["id"], e["event"], e["raw"]) for e in replayed],
                             [(e["id"], e["event"], e["raw"]) for e in old[2:]])

            # Without Last-Event-ID a stream starts after the newest event: the first thing
            # it receives is the next run's run.queued.
            fresh = srv.events()
            second = srv.start_run("t")["id"]
            new = self.read_run(fresh, second)
            self.assertEqual((new[0]["event"], new[0]["data"]["id"]), ("run.queued", second))
            self.assertGreater(new[0]["id"], old[-1]["id"])
            self.assert_run_events(new, second, "t", summary(3, unchanged=3))

    def test_last_event_id_of_an_earlier_server_does_not_hide_new_events(self):
        # Event ids start again at 1 in each server process; a browser reconnecting after a
        # restart sends the id it saw last. Such an id (or one that is not a number) starts
        # the stream at the newest event, like no Last-Event-ID at all.
        with self.serve() as srv:
            streams = [srv.events(headers={"Last-Event-ID": v}) for v in ("1000", "abc")]
            run_id = srv.start_run("t")["id"]
            for stream in streams:
                self.assert_run_events(self.read_run(stream, run_id), run_id, "t",
                                       summary(3, created=3))


class ListsTest(ServeTestCase):
    def test_runs_list_newest_first_paginates_and_filters(self):
        self.write_config({"t": sync_config("people.csv"),
                           "other": sync_config("other.csv", table="other"),
                           "bad": sync_config("missing.csv", table="bad")})
        self.write_csv("people.csv", HEADER, people_rows(2))
        self.write_csv("other.csv", HEADER, people_rows(2))
        with self.serve() as srv:
            plan = [("t", "succeeded"), ("other", "succeeded"), ("t", "succeeded"),
                    ("bad", "failed"), ("t", "succeeded"), ("other", "succeeded"),
                    ("t", "succeeded")]
            ids = [srv.run_to_end(sync, status)["id"] for sync, status in plan]
            newest_first = sorted(ids, reverse=True)

            listed = srv.get_json("/api/runs")
            self.assertEqual([r["id"] for r in listed["runs"]], newest_first)
            self.assertIsNone(listed["next_cursor"])

            pages, cursor = [], None
            for _ in range(10):
                page = srv.get_json("/api/runs?limit=3" +
                                    ("&cursor=%s" % cursor if cursor is not None else ""))
                self.assertLessEqual(len(page["runs"]), 3)
                pages.append([r["id"] for r in page["runs"]])
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            self.assertEqual(pages, [newest_first[0:3], newest_first[3:6], newest_first[6:]])
            # A page that is exactly the last one says so: no cursor to an empty page.
            self.assertIsNone(srv.get_json("/api/runs?limit=7")["next_cursor"])
            self.assertEqual(srv.get_json("/api/runs?limit=6")["next_cursor"],
                             str(newest_first[5]))

            def ids_of(query):
                return [r["id"] for r in srv.get_json("/api/runs?" + query)["runs"]]
            by_sync = [i for i, (s, _) in sorted(zip(ids, plan), reverse=True) if s == "t"]
            self.assertEqual(ids_of("sync=t"), by_sync)
            self.assertEqual(ids_of("status=failed"), [ids[3]])
            self.assertEqual(ids_of("sync=other&status=succeeded"), [ids[5], ids[1]])
            self.assertEqual(ids_of("sync=t&limit=2&cursor=%d" % by_sync[1]), by_sync[2:4])
            self.assertEqual(ids_of("sync=nope"), [])
            # Empty parameters (a form's "All") filter nothing.
            self.assertEqual(ids_of("sync=&status=&user=&tenant="), newest_first)
            # until keeps the runs queued before it; with since, a window.
            by_id = {r["id"]: r for r in listed["runs"]}
            cut = by_id[ids[3]]["queued_at"]
            self.assertEqual(ids_of("until=" + cut), sorted(ids[:3], reverse=True))
            self.assertEqual(ids_of("since=%s&until=%s" % (by_id[ids[1]]["queued_at"], cut)),
                             [ids[2], ids[1]])
            self.assertEqual(ids_of("until=2000-01-01"), [])
            # The export takes the same filters.
            exported = json.loads(srv.get("/api/runs/export?format=json&sync=t&status=succeeded"
                                          "&until=" + cut).body)
            self.assertEqual([r["id"] for r in exported], [ids[2], ids[0]])
            csv_rows = srv.get("/api/runs/export?sync=other").body.decode().strip().split("\r\n")
            self.assertEqual([int(line.split(",")[0]) for line in csv_rows[1:]], [ids[5], ids[1]])
            r = srv.get("/api/runs/export?status=bogus")
            self.assertIn("status", self.assert_error(r, 400, "bad_parameter"))

            for query, name in (("limit=0", "limit"), ("limit=abc", "limit"),
                                ("limit=501", "limit"), ("limit=", "limit"),
                                ("cursor=-1", "cursor"), ("cursor=x", "cursor"),
                                ("status=bogus", "status"), ("until=soon", "until")):
                r = srv.get("/api/runs?" + query)
                self.assertIn(name, self.assert_error(r, 400, "bad_parameter"), query)

    def test_changes_list_keys_outcomes_rows_reasons_and_diffs(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", HEADER, people_rows(3))
        with self.serve() as srv:
            srv.run_to_end("t")
            rows = people_rows(4)
            rows[1][1] = "Renamed"          # P0000001: updated
            rows[2][2] = "not-an-email"     # P0000002: failed
            self.write_csv("people.csv", HEADER, rows)  # P0000003: created
            run = srv.run_to_end("t")
            self.assertEqual(run["ui_message"],
                             summary(4, created=1, updated=1, unchanged=1, failed=1))

            changes = srv.get_json("/api/runs/%d/changes" % run["id"])
            self.assertEqual(changes["run"], run["id"])
            got = {c["key"]: c for c in changes["changes"]}
            self.assertEqual(sorted(got), ["P0000001", "P0000002", "P0000003"])  # no unchanged
            for c in changes["changes"]:
                self.assertLessEqual({"key", "outcome", "row", "reason", "diff"}, set(c))
            updated, failed, created = got["P0000001"], got["P0000002"], got["P0000003"]
            self.assertEqual((updated["outcome"], updated["row"]), ("updated", 3))
            self.assertEqual(updated["diff"], {"name": ["Person 1", "Renamed"]})
            self.assertEqual((failed["outcome"], failed["row"], failed["diff"]),
                             ("failed", 4, None))
            self.assertIn("'not-an-email' is not an email address", failed["reason"])
            self.assertEqual((created["outcome"], created["row"], created["reason"],
                              created["diff"]), ("created", 5, None, None))

            only_failed = srv.get_json("/api/runs/%d/changes?outcome=failed" % run["id"])
            self.assertEqual([c["key"] for c in only_failed["changes"]], ["P0000002"])
            self.assertEqual(srv.get_json("/api/runs/%d/changes?outcome=deleted"
                                          % run["id"])["changes"], [])
            r = srv.get("/api/runs/%d/changes?outcome=bogus" % run["id"])
            self.assertIn("outcome", self.assert_error(r, 400, "bad_parameter"))
            self.assert_error(srv.get("/api/runs/999/changes"), 404, "not_found")


class PageTest(ServeTestCase):
    """The admin page's files are served from the binary, to anyone, with cache validation
    and a Content-Security-Policy."""

    def test_the_page_is_served_with_etag_and_csp(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", HEADER, people_rows(1))
        with self.serve() as srv:
            r = srv.get("/", auth=False)
            self.assertEqual(r.status, 200)
            self.assertTrue(r.header("Content-Type").startswith("text/html"), r)
            self.assertIn(b"<!doctype html>", r.body.lower())
            self.assertIn("default-src 'self'", r.header("Content-Security-Policy"))
            self.assertEqual(r.header("X-Frame-Options"), "DENY")
            etag = r.header("ETag")
            self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
            self.assertEqual(srv.get("/index.html", auth=False).body, r.body)
            again = srv.get("/", auth=False, headers={"If-None-Match": etag})
            self.assertEqual((again.status, again.body), (304, b""))
            self.assertEqual(srv.get("/", auth=False,
                                     headers={"If-None-Match": '"0000000000000000"'}).status, 200)
            r = srv.request("POST", "/", auth=False)
            self.assertEqual((r.status, r.header("Allow")), (405, "GET"))


class CorsTest(ServeTestCase):
    """Pages of the origins in cors_origins may call the API from a browser; others may not."""

    def test_allowed_origins_get_cors_headers_and_preflights(self):
        allowed, other = "http://127.0.0.1:9999", "https://evil.example"
        self.write_file("ferry.yaml", json.dumps({
            "cors_origins": [allowed], "syncs": {"t": sync_config("people.csv")}}))
        self.write_csv("people.csv", HEADER, people_rows(1))
        with self.serve() as srv:
            pre = {"Origin": allowed, "Access-Control-Request-Method": "POST",
                   "Access-Control-Request-Headers": "authorization, content-type"}
            r = srv.request("OPTIONS", "/api/syncs/t/runs", headers=pre, auth=False)
            self.assertEqual(r.status, 204, r)
            self.assertEqual(r.header("Access-Control-Allow-Origin"), allowed)
            self.assertEqual(r.header("Access-Control-Allow-Credentials"), "true")
            for h in ("Authorization", "Content-Type", "X-CSRF-Token", "Last-Event-ID"):
                self.assertIn(h, r.header("Access-Control-Allow-Headers"))
            self.assertIn("POST", r.header("Access-Control-Allow-Methods"))
            self.assertEqual(self.run_count(), 0)  # a preflight queues nothing

            r = srv.request("OPTIONS", "/api/syncs/t/runs", auth=False,
                            headers=dict(pre, Origin=other))
            self.assert_error(r, 403, "cors")
            self.assertIsNone(r.header("Access-Control-Allow-Origin"))

            r = srv.get("/api/syncs", headers={"Origin": allowed})
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("Access-Control-Allow-Origin"), allowed)
            self.assertEqual(r.header("Vary"), "Origin")
            r = srv.get("/api/syncs", auth=False, headers={"Origin": allowed})
            self.assertEqual(r.status, 401)  # errors carry the headers too, so pages can read
            self.assertEqual(r.header("Access-Control-Allow-Origin"), allowed)
            r = srv.get("/api/syncs", headers={"Origin": other})
            self.assertEqual(r.status, 200)  # the server answers; the browser hides it
            self.assertIsNone(r.header("Access-Control-Allow-Origin"))
            run = srv.post("/api/syncs/t/runs", headers={"Origin": allowed})
            self.assertEqual(run.status, 202)
            self.assertEqual(run.header("Access-Control-Allow-Origin"), allowed)
            # The component's script may be loaded by any page (it calls the API as above).
            js = srv.get("/ferry-sync.js", auth=False, headers={"Origin": other})
            self.assertEqual(js.status, 200)
            self.assertTrue(js.header("Content-Type").startswith("text/javascript"), js)
            self.assertEqual(js.header("Access-Control-Allow-Origin"), "*")
            self.assertIn(b"customElements.define", js.body)


class ErrorsTest(ServeTestCase):
    def test_errors_are_json_with_the_right_status(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", HEADER, people_rows(1))
        with self.serve() as srv:
            for method, path, status in (("GET", "/nope", 404), ("GET", "/nope.js", 404),
                                         ("GET", "/api", 404), ("GET", "/api/nope", 404),
                                         ("GET", "/api/syncs/t", 404),
                                         ("POST", "/api/syncs/nope/runs", 404),
                                         ("GET", "/api/runs/999", 404),
                                         ("GET", "/api/runs/abc", 404),
                                         ("GET", "/api/runs/0", 404),
                                         ("GET", "/api/runs/1/nope", 404)):
                self.assert_error(srv.request(method, path), status, "not_found")

            for method, path, allow in (("DELETE", "/api/runs", "GET"),
                                        ("GET", "/api/syncs/x/runs", "POST"),
                                        ("PUT", "/api/syncs", "GET"),
                                        ("POST", "/healthz", "GET"),
                                        ("GET", "/api/runs/1/cancel", "POST"),
                                        ("POST", "/api/events", "GET")):
                r = srv.request(method, path)
                self.assert_error(r, 405, "method_not_allowed")
                self.assertEqual(r.header("Allow"), allow, (method, path))

            for body in (b"{not json", b"[1, 2]", b'"a string"', b"42", b"{"):
                r = srv.post("/api/syncs/t/runs", body,
                             headers={"Content-Type": "application/json"})
                self.assertIn("JSON object", self.assert_error(r, 400, "bad_json"), body)

            # A body announced larger than the limit is refused before it is read; one that
            # does not announce its size (chunked) is refused once it passes the limit.
            r = srv.raw("POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/json\r\nContent-Length: %d"
                        % (1024 * 1024 + 20), b'{"pad": "' + b"x" * 4096)
            self.assert_error(r, 413, "too_large")
            chunk = b"x" * 65536
            chunked = (b'9\r\n{"pad": "\r\n'
                       + (b"10000\r\n" + chunk + b"\r\n") * 17 + b'2\r\n"}\r\n0\r\n\r\n')
            r = srv.raw("POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked", chunked)
            self.assert_error(r, 413, "too_large")

            # None of them queued a run; an empty object is a body the route takes.
            self.assertEqual(self.run_count(), 0)
            self.assertEqual(srv.post("/api/syncs/t/runs", {}).status, 202)


class RobustnessTest(ServeTestCase):
    def raw(self, srv, data, close_early=False):
        """Sends data on a new connection and returns what the server answers (bounded)."""
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        got = b""
        try:
            try:
                s.sendall(data)
            except OSError:
                pass  # the server may close before reading it all
            if close_early:
                return b""
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # already reset by the server
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    chunk = s.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        return got

    def assert_refused(self, answer, what):
        """A 4xx answer (505 for an unknown HTTP version), or none at all (closed)."""
        if answer:
            status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.") else 0
            self.assertTrue(400 <= status < 500 or status == 505,
                            "%s: %r" % (what, answer[:200]))

    def test_malformed_requests_do_not_break_the_server(self):
        self.write_config({"t": sync_config("people.csv")})
        self.write_csv("people.csv", HEADER, people_rows(3))
        with self.serve() as srv:
            # The Authorization header line(s), so the /api requests get past authentication.
            auth = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode())
                            for k, v in srv.auth_headers().items())
            cases = [
                ("garbage request line", b"GARBAGE\r\n\r\n"),
                ("binary", bytes(range(256)) + b"\r\n\r\n"),
                ("no version", b"GET /healthz\r\n\r\n"),
                ("bad version", b"GET /healthz HTTP/9.9\r\nHost: x\r\n" + auth + b"\r\n"),
                ("huge header", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + auth + b"X-Big: "
                 + b"a" * 300000 + b"\r\n\r\n"),
                ("huge url", b"GET /" + b"a" * 300000 + b" HTTP/1.1\r\nHost: x\r\n" + auth
                 + b"\r\n"),
                ("bad content length", b"POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n"
                 + auth + b"Content-Length: -5\r\n\r\n"),
                ("bad chunk", b"POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n" + auth
                 + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
            ]
            for what, data in cases:
                self.assert_refused(self.raw(srv, data), what)
                self.assertEqual(srv.get("/healthz").status, 200, what)

            # Bodies cut short: a large Content-Length, a few bytes, then the client is gone.
            for length in (10, 1000000, 5000000):
                self.raw(srv, b"POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n" + auth
                         + b"Content-Length: %d\r\n\r\n{\"a\": " % length, close_early=True)
                self.raw(srv, b"POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n" + auth,
                         close_early=True)
                self.assertEqual(srv.get("/healthz").status, 200)
            # Connections that say nothing at all.
            for _ in range(5):
                socket.create_connection(("127.0.0.1", srv.port), timeout=5).close()
            # Event streams dropped by their clients: the next events find them gone.
            for _ in range(3):
                srv.events().close()
            self.assertEqual(self.run_count(), 0)
            run = srv.run_to_end("t")
            self.assertEqual(run["ui_message"], summary(3, created=3))
            self.assertEqual(srv.get_json("/healthz")["status"], "ok")


class TimeoutTest(ServeTestCase):
    def test_a_run_over_its_timeout_fails_naming_it_and_changes_nothing(self):
        slow = sync_config(self.slow_route("/slow.csv", people_rows(SLOW_ROWS), seconds=6))
        slow["timeout"] = "1s"
        self.write_config({"t": slow})
        with self.serve() as srv:
            started = time.monotonic()
            run = srv.wait_run(srv.start_run("t")["id"])
            self.assertLess(time.monotonic() - started, 4, "the timeout was not enforced")
            self.assertEqual((run["status"], run["error_code"]), ("failed", "limit"), run)
            self.assertIn("took longer than its timeout of 1.0 s", run["error"])
            self.assertFalse(self.table_exists("people"))


class ScheduleTest(ServeTestCase):
    def test_a_cron_schedule_is_read_in_its_timezone_and_the_api_names_the_zone(self):
        team = sync_config("people.csv")
        team["schedule"] = 'cron "0 2 1 JAN *"'  # far off: nothing runs during the test
        team["timezone"] = "Asia/Jakarta"
        other = sync_config("other.csv", table="other")
        other["schedule"] = 'cron "@yearly"'
        self.write_config({"team": team, "other": other})
        with self.serve() as srv:
            syncs = srv.get_json("/api/syncs")["syncs"]
            # The scheduler looks within a second of start; a busy machine may delay it.
            deadline = time.monotonic() + 30
            while any(s["next_run_at"] is None for s in syncs) and time.monotonic() < deadline:
                time.sleep(0.05)
                syncs = srv.get_json("/api/syncs")["syncs"]
            self.assertEqual([s["timezone"] for s in syncs], ["Asia/Jakarta", "UTC"])
            # 02:00 on January 1st in Jakarta (+07:00) is 19:00 UTC on December 31st.
            self.assertRegex(syncs[0]["next_run_at"] or "", r"^\d{4}-12-31T19:00:00")
            self.assertRegex(syncs[1]["next_run_at"] or "", r"^\d{4}-01-01T00:00:00")

    def test_schedule_runs_once_per_period_as_the_scheduler_and_keeps_its_rhythm(self):
        team = sync_config(self.fast_route("/people.csv", people_rows(2)))
        team["schedule"] = "every 1h"
        self.write_config({"t": team})
        with self.serve() as srv:
            deadline = time.monotonic() + 10
            while self.run_count() == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            run = srv.wait_run(self.last_run()["id"])
            self.assertEqual((run["trigger"], run["user"], run["status"]),
                             ("schedule", "scheduler", "succeeded"))
            time.sleep(1.5)  # the scheduler looks every second: no second run this period
            self.assertEqual(self.run_count(), 1)
            sync = srv.get_json("/api/syncs")["syncs"][0]
            self.assertIsNotNone(sync["next_run_at"])
        # A restart within the period keeps the rhythm: no run at start.
        with self.serve():
            time.sleep(1.5)
            self.assertEqual(self.run_count(), 1)


class LifecycleTest(ServeTestCase):
    def test_restart_after_kill_9_runs_the_interrupted_run_again_as_attempt_2(self):
        rows = people_rows(SLOW_ROWS)
        sync = sync_config(self.slow_route("/people.csv", rows))
        sync["retries"] = 1  # a run whose process died is started again once
        self.write_config({"t": sync})
        with self.serve() as srv:
            run_id = srv.start_run("t")["id"]
            self.wait_applying(srv, run_id)
            srv.kill()
        stored = self.last_run()
        self.assertEqual((stored["id"], stored["status"], stored["attempt"]),
                         (run_id, "running", 1))
        self.assertFalse(self.table_exists("people"))  # the first load was rolled back

        self.fast_route("/people.csv", rows)
        with self.serve() as srv:
            # Attempt 1 ends as interrupted; attempt 2 is a new run that names it.
            first = srv.get_json("/api/runs/%d" % run_id)
            self.assertEqual((first["status"], first["error_code"]), ("interrupted", "interrupted"))
            second = srv.get_json("/api/runs")["runs"][0]
            self.assertEqual(second["retry_of"], run_id, second)
            run = srv.wait_run(second["id"])
            self.assertEqual((run["status"], run["attempt"], run["trigger"]),
                             ("succeeded", 2, "api"), run)
            self.assertEqual(run["ui_message"], summary(SLOW_ROWS, created=SLOW_ROWS))
            self.assertIn("ended runs left running by a process that died", srv.stderr_text())
        self.assertEqual(self.query("SELECT id, status, attempt, retry_of FROM ferry_runs"),
                         [(run_id, "interrupted", 1, None), (second["id"], "succeeded", 2, run_id)])
        self.assertEqual(self.query("SELECT count(*) AS n, count(DISTINCT id) AS d FROM people"),
                         [(SLOW_ROWS, SLOW_ROWS)])
        self.assertEqual(self.table_rows("people"), [tuple(r) for r in rows])

    def test_sigint_during_a_run_rolls_it_back_queues_it_again_and_exits_0(self):
        self.write_config({"t": sync_config(self.fast_route("/people.csv", people_rows(4)))})
        with self.serve() as srv:
            srv.run_to_end("t")
            before = self.table_rows("people")
            self.slow_route("/people.csv", renamed_rows(SLOW_ROWS))
            run_id = srv.start_run("t")["id"]
            # Idle event streams (suspended by the server) and busy ones must all end.
            streams = [srv.events(q) for q in ("", "?sync=t", "?sync=none") * 4]
            self.wait_applying(srv, run_id)
            elapsed = srv.stop(timeout=10)
            self.assertLess(elapsed, 10)
            for stream in streams:
                self.assertTrue(stream.wait_ended(timeout=2), "an event stream was left open")
            self.assertRegex(srv.stderr_text(), r'msg="stopping" signal=SIGINT active_runs=1')
        # Stopping is not cancelling: the run is rolled back and queued again for the next
        # server (test_shutdown.py has the rest).
        run = self.last_run()
        self.assertEqual((run["id"], run["status"], run["error_code"], run["attempt"]),
                         (run_id, "queued", None, 1))
        self.assertIsNone(run["ui_message"])
        self.assertIsNone(run["finished_at"])
        self.assertEqual(self.table_rows("people"), before)
        self.assertEqual(self.changes(run_id), [])


if __name__ == "__main__":
    ferrytest.main()
