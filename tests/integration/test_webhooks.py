"""Telling the application: signed webhooks, the change feed, e-mail and pg_channel, through
the durable outbox of a real `ferry serve`.

A receiver of the test's own on loopback records every POST; signatures are checked with
Python's hmac, independently of Ferry's code. Retries use notify_retry_base (a short first
wait, documented as a test knob), so every wait here is a bounded loop on what the server
has recorded, never a timed assertion.
"""

import hashlib
import hmac
import http.server
import json
import os
import ssl
import subprocess
import threading
import time
import unittest

import ferrytest
from ferrytest import closed_port, people_rows, sync_config

import fake_smtp

SECRET = "whsec-test-4f9a1c2e7b"
os.environ["FERRY_TEST_WEBHOOK_SECRET"] = SECRET


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs. answers: statuses to give the next
    POSTs in turn (302 is sent as a redirect); once used up, 200."""

    def __init__(self, port=0, answers=(), tls=None):
        self.posts = []
        self.answers = list(answers)
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                with outer.lock:
                    outer.posts.append((dict(self.headers.items()), body))
                    status = outer.answers.pop(0) if outer.answers else 200
                if status == "slow":  # past Ferry's 10 s: it gives up first
                    time.sleep(12)
                    status = 200
                try:
                    self.send_response(status)
                    if status == 302:
                        self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # Ferry gave up waiting (the slow answer)

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/hook"):
        return "%s://127.0.0.1:%d%s?token=not-for-logs" % (self.scheme, self.port, path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def bodies(self):
        with self.lock:
            return [(h, json.loads(b)) for h, b in self.posts]

    def wait(self, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.bodies()
            if predicate(got):
                return got
            time.sleep(0.05)
        raise AssertionError("the receiver never got %s; it got %d posts" % (what,
                                                                          len(self.bodies())))


def verify(headers, raw, secret=SECRET):
    """Checks Ferry-Signature the way a receiver would: t within 5 minutes, v1 an HMAC-SHA256
    of "t.body", compared in constant time."""
    parts = [p.split("=", 1) for p in headers["Ferry-Signature"].split(",")]
    t = int(dict(parts)["t"])
    assert abs(time.time() - t) < 300, "stale timestamp"
    want = hmac.new(secret.encode(), b"%d." % t + raw, hashlib.sha256).hexdigest()
    return any(k == "v1" and hmac.compare_digest(want, v) for k, v in parts)


class WebhookTests(ferrytest.FerryTestCase):

    def config(self, notify, rows=3, top=None):
        self.write_csv("people.csv", ["id", "name", "email"], people_rows(rows))
        sync = sync_config("people.csv")
        sync["notify"] = notify
        text = ferrytest.config_text({"t": sync}, self.database)
        cfg = json.loads(text)
        cfg["notify_retry_base"] = "200ms"
        cfg.update(top or {})
        self.write_config(json.dumps(cfg, indent=2) + "\n")

    def webhook(self, url, **extra):
        hook = {"url": url, "secret_env": "FERRY_TEST_WEBHOOK_SECRET"}
        hook.update(extra)
        return {"webhook": hook}

    def deliveries(self, server, run_id):
        return server.get_json("/api/runs/%d/deliveries" % run_id)["deliveries"]

    def wait_deliveries(self, server, run_id, predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.deliveries(server, run_id)
            if predicate(got):
                return got
            time.sleep(0.05)
        self.fail("the deliveries of run %d never were %s: %r" % (run_id, what, got))

    def assert_no_secret(self, server):
        self.assertNotIn(SECRET, server.stderr_text())
        self.assertNotIn("not-for-logs", server.stderr_text())
        if not ferrytest.ON_POSTGRES:
            dump = subprocess.run(["sqlite3", self.db_path, ".dump ferry_deliveries",
                                   ".dump ferry_delivery_attempts"],
                                  capture_output=True, text=True, timeout=30).stdout
            self.assertIn("INSERT INTO", dump)
            self.assertNotIn(SECRET, dump)
            self.assertNotIn("not-for-logs", dump)

    def test_a_finished_run_is_posted_signed(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()))
        with self.serve() as server:
            run = server.run_to_end("t")
            got = rx.wait(lambda p: len(p) >= 1, "the run")
            headers, body = got[0]
            raw = rx.posts[0][1]
            self.assertTrue(verify(headers, raw), "the signature does not verify")
            self.assertFalse(verify(headers, raw, "another-secret"))
            self.assertEqual(headers["Content-Type"], "application/json")
            self.assertEqual(headers["User-Agent"], "Ferry")
            self.assertEqual(body["type"], "run.finished")
            self.assertEqual(body["delivery_id"], headers["Ferry-Delivery"])
            self.assertRegex(body["delivery_id"], r"^dlv_[0-9a-f]{24}$")
            self.assertEqual(body["run"]["id"], run["id"])
            self.assertEqual(body["run"]["status"], "succeeded")
            self.assertEqual(body["run"]["counts"]["created"], 3)
            self.assertEqual(body["run"]["sync"], "t")
            self.assertTrue(body["run"]["url"].endswith("/#/runs/%d" % run["id"]))
            self.assertIn("deliveries", body["run"])
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["status"] == "delivered", "delivered")
            self.assertEqual(len(d), 1)
            self.assertEqual(d[0]["id"], body["delivery_id"])
            self.assertEqual(d[0]["kind"], "webhook")
            self.assertEqual(d[0]["attempts"], 1)
            self.assertEqual(d[0]["last_status"], 200)
            self.assertEqual(d[0]["endpoint"], "http://127.0.0.1:%d/hook" % rx.port)
            self.assertEqual(d[0]["tries"][0]["status"], 200)
            one = server.get_json("/api/runs/%d" % run["id"])
            self.assertEqual(one["deliveries"],
                             {"total": 1, "delivered": 1, "pending": 0, "failed": 0})
            listed = server.get_json("/api/runs")["runs"][0]
            self.assertEqual(listed["deliveries"], one["deliveries"])
            self.assertNotIn(SECRET, json.dumps(d) + json.dumps(one))
            self.assert_no_secret(server)

    def test_a_rotated_secret_signs_beside_the_new_one(self):
        os.environ["FERRY_TEST_OLD_SECRET"] = "whsec-old-0b8d"
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url(), previous_secret_env="FERRY_TEST_OLD_SECRET"))
        with self.serve() as server:
            server.run_to_end("t")
            headers, _ = rx.wait(lambda p: len(p) >= 1, "the run")[0]
            raw = rx.posts[0][1]
            self.assertEqual(headers["Ferry-Signature"].count("v1="), 2)
            self.assertTrue(verify(headers, raw))
            self.assertTrue(verify(headers, raw, "whsec-old-0b8d"))
            self.assertFalse(verify(headers, raw, "whsec-other"))
            self.assertNotIn("whsec-old-0b8d", server.stderr_text())

    def test_failures_are_recorded_and_retried_with_the_same_id(self):
        rx = Receiver(answers=[500, 302])
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url(), on=["succeeded"]))
        with self.serve() as server:
            run = server.run_to_end("t")
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["status"] == "delivered", "delivered")
            self.assertEqual(d[0]["attempts"], 3)
            self.assertEqual([t["status"] for t in d[0]["tries"]], [500, 302, 200])
            self.assertIn("answered 500", d[0]["tries"][0]["error"])
            self.assertIn("redirect, not followed", d[0]["tries"][1]["error"])
            self.assertIsNone(d[0]["tries"][2]["error"])
            ids = {h["Ferry-Delivery"] for h, _ in rx.bodies()}
            self.assertEqual(ids, {d[0]["id"]})
            for h, _ in rx.bodies():
                self.assertNotIn("elsewhere", h.get("Host", ""))
            # the run itself never waited for the endpoint
            self.assertEqual(server.get_json("/api/runs/%d" % run["id"])["status"], "succeeded")
            self.assert_no_secret(server)

    def test_an_unreachable_endpoint_is_an_attempt_not_a_run_failure(self):
        port = closed_port()
        self.config(self.webhook("http://127.0.0.1:%d/hook" % port))
        with self.serve() as server:
            run = server.run_to_end("t")
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["attempts"] >= 2, "tried twice")
            self.assertEqual(d[0]["status"], "pending")
            self.assertIsNone(d[0]["last_status"])
            self.assertTrue(d[0]["last_error"])
            self.assertIsNotNone(d[0]["next_attempt_at"])

    def test_a_delivery_past_its_24_hours_is_given_up(self):
        self.config(self.webhook("http://127.0.0.1:%d/hook" % closed_port()))
        with self.serve() as server:
            run = server.run_to_end("t")
            self.wait_deliveries(server, run["id"], lambda d: d and d[0]["attempts"] >= 1,
                                 "tried")
            # as if a day had gone by since it was made
            self.exec_script("UPDATE ferry_deliveries SET give_up_at = %s;"
                             % ("'2000-01-01T00:00:00Z'" if ferrytest.ON_POSTGRES
                                else "'2000-01-01T00:00:00.000Z'"))
            d = self.wait_deliveries(server, run["id"], lambda d: d[0]["status"] == "failed",
                                     "given up")
            self.assertIsNone(d[0]["next_attempt_at"])
            self.assertIn("gave_up", server.stderr_text())

    def test_a_timeout_is_a_failed_attempt_then_retried(self):
        rx = Receiver(answers=["slow"])
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()))
        with self.serve() as server:
            run = server.run_to_end("t")
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["status"] == "delivered", "delivered",
                                     timeout=60)
            self.assertEqual(d[0]["attempts"], 2)
            self.assertIsNone(d[0]["tries"][0]["status"])
            self.assertRegex(d[0]["tries"][0]["error"], "(?i)time")

    def test_an_untrusted_certificate_is_a_failed_attempt(self):
        cert = fake_smtp.make_certificate(self.dir)
        rx = Receiver(tls=cert)
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()))
        with self.serve() as server:
            run = server.run_to_end("t")
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["attempts"] >= 1, "tried")
            self.assertEqual(d[0]["status"], "pending")
            self.assertRegex(d[0]["last_error"], "(?i)certificate|ssl|tls")
            self.assertEqual(rx.posts, [])

    def test_a_private_endpoint_needs_allow_private(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()), top={"allow_private": False})
        with self.serve() as server:
            run = server.run_to_end("t")
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["attempts"] >= 1, "tried")
            self.assertIn("allow_private", d[0]["last_error"])
            self.assertEqual(rx.posts, [])

    def test_a_delivery_survives_a_restart_of_serve(self):
        rx = Receiver()
        port = rx.port
        rx.stop()  # down: the first attempts fail
        self.config(self.webhook("http://127.0.0.1:%d/hook" % port))
        with self.serve() as server:
            run = server.run_to_end("t")
            self.wait_deliveries(server, run["id"], lambda d: d and d[0]["attempts"] >= 1,
                                 "tried")
        rx = Receiver(port=port)
        self.addCleanup(rx.stop)
        with self.serve() as server:
            got = rx.wait(lambda p: len(p) >= 1, "the run after the restart")
            self.assertEqual(got[0][1]["run"]["id"], run["id"])
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["status"] == "delivered", "delivered")
            self.assertGreaterEqual(d[0]["attempts"], 2)

    def test_ferry_sync_enqueues_and_serve_delivers(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()))
        self.sync("t")
        self.assertEqual(rx.posts, [])
        with self.serve():
            got = rx.wait(lambda p: len(p) >= 1, "the CLI's run")
            self.assertEqual(got[0][1]["run"]["trigger"], "cli")

    def test_on_filters_the_ends_told(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url(), on=["failed"]))
        with self.serve() as server:
            run = server.run_to_end("t")
            self.assertEqual(self.deliveries(server, run["id"]), [])

    def test_a_held_run_is_told_like_a_failed_one(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url(), on=["failed"]))
        with self.serve() as server:
            r = server.post("/api/syncs/t/runs", body={"preview": True})
            self.assertEqual(r.status, 202, r)
            run = server.wait_run(r.json["id"])
            self.assertEqual(run["status"], "held")
            got = rx.wait(lambda p: len(p) >= 1, "the held run's webhook")
            body = got[0][1]
            self.assertEqual((body["run"]["id"], body["run"]["status"]), (run["id"], "held"))
            self.assertIn("a preview", body["run"]["held_reason"])

    def test_redeliver_sends_the_same_delivery_again(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()))
        with self.serve() as server:
            run = server.run_to_end("t")
            rx.wait(lambda p: len(p) >= 1, "the run")
            d = self.wait_deliveries(server, run["id"],
                                     lambda d: d and d[0]["status"] == "delivered", "delivered")
            r = server.post("/api/deliveries/%s/redeliver" % d[0]["id"])
            self.assertEqual(r.status, 202, r.body)
            got = rx.wait(lambda p: len(p) >= 2, "the redelivery")
            self.assertEqual(got[1][0]["Ferry-Delivery"], d[0]["id"])
            self.assertEqual(server.post("/api/deliveries/dlv_nope/redeliver").status, 404)
            audit = server.get_json("/api/audit?action=delivery.redeliver")
            self.assertEqual(audit["entries"][0]["target"], d[0]["id"])

    def test_the_change_feed_sends_every_record_in_order(self):
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url(), records=True), rows=10000)
        with self.serve() as server:
            run = server.run_to_end("t")
            got = rx.wait(lambda p: any(b.get("type") == "run.records" and b["last"]
                                        for _, b in p), "the last batch", timeout=120)
            batches = [(h, b) for h, b in got if b["type"] == "run.records"]
            self.assertEqual([b["seq"] for _, b in batches], list(range(1, 21)))
            self.assertEqual([b["last"] for _, b in batches], [False] * 19 + [True])
            keys = [r["key"] for _, b in batches for r in b["records"]]
            self.assertEqual(keys, ["P%07d" % i for i in range(10000)])
            self.assertTrue(all(len(b["records"]) == 500 for _, b in batches))
            self.assertEqual({r["outcome"] for _, b in batches for r in b["records"]},
                             {"created"})
            for h, b in batches:
                self.assertEqual(b["run_id"], run["id"])
                self.assertEqual(h["Ferry-Delivery"], b["delivery_id"])
                raw = next(r for hh, r in rx.posts if hh["Ferry-Delivery"] == b["delivery_id"])
                self.assertTrue(verify(h, raw))
            # a second version: one changed, one gone
            rows = people_rows(10000)
            rows[5][1] = "Renamed"
            del rows[7]
            self.write_csv("people.csv", ["id", "name", "email"], rows)
            n = len(rx.posts)
            run2 = server.run_to_end("t")
            got = rx.wait(lambda p: any(b.get("type") == "run.records" and b["last"]
                                        and b["run_id"] == run2["id"] for _, b in p),
                          "the second run's feed")
            recs = [r for _, b in got[n:] if b["type"] == "run.records" for r in b["records"]]
            self.assertEqual(recs[0], {"step": None, "key": "P0000005", "outcome": "updated",
                                       "diff": {"name": ["Person 5", "Renamed"]}})
            self.assertEqual(len(recs), 1)  # on_missing keeps by default: nothing deleted

    def test_email_goes_through_smtp(self):
        with fake_smtp.FakeSmtp() as smtp:
            self.write_csv("people.csv", ["id", "name", "email"],
                           people_rows(2) + [["P9", "Bad", "not-an-email"]])
            sync = sync_config("people.csv", title="Therapists")
            sync["notify"] = {"email": {"to": ["ops@clinic.example"], "on": ["succeeded",
                                                                          "failed"]}}
            cfg = json.loads(ferrytest.config_text({"t": sync}, self.database))
            cfg["smtp"] = {"url": smtp.url, "from": "ferry@clinic.example",
                           "starttls": False}
            cfg["public_url"] = "https://admin.clinic.example/ferry/"
            self.write_config(json.dumps(cfg, indent=2) + "\n")
            with self.serve() as server:
                run = server.run_to_end("t")
                d = self.wait_deliveries(server, run["id"],
                                         lambda d: d and d[0]["status"] == "delivered",
                                         "delivered")
                self.assertEqual(d[0]["kind"], "email")
                self.assertEqual(d[0]["endpoint"], "ops@clinic.example")
                msgs = smtp.received()
                self.assertEqual(len(msgs), 1)
                m = msgs[0]
                self.assertEqual(m.header("Subject"), "Ferry: sync of Therapists succeeded")
                self.assertIn("Processed 3", m.body)
                self.assertIn("P9: ", m.body)
                self.assertIn("https://admin.clinic.example/ferry/#/runs/%d" % run["id"],
                              m.body)

    def test_an_smtp_login_refused_is_a_failed_attempt_with_the_servers_answer(self):
        cert, key = fake_smtp.make_certificate(self.dir)
        os.environ["FERRY_TEST_SMTP_USER"] = "ferry"
        os.environ["FERRY_TEST_SMTP_PASSWORD"] = "wrong-password-x1"
        with fake_smtp.FakeSmtp(cert, key, user="ferry", password="right") as smtp:
            self.write_csv("people.csv", ["id", "name", "email"], people_rows(2))
            sync = sync_config("people.csv")
            sync["notify"] = {"email": {"to": ["ops@clinic.example"], "on": ["finished"]}}
            cfg = json.loads(ferrytest.config_text({"t": sync}, self.database))
            cfg["smtp"] = {"url": smtp.url, "from": "ferry@clinic.example", "ca_file": cert,
                           "user_env": "FERRY_TEST_SMTP_USER",
                           "password_env": "FERRY_TEST_SMTP_PASSWORD"}
            self.write_config(json.dumps(cfg, indent=2) + "\n")
            with self.serve() as server:
                run = server.run_to_end("t")
                d = self.wait_deliveries(server, run["id"],
                                         lambda d: d and d[0]["attempts"] >= 1, "tried")
                self.assertEqual(d[0]["status"], "pending")
                self.assertIn("535", d[0]["last_error"])
                self.assertNotIn("wrong-password-x1", json.dumps(d) + server.stderr_text())
                self.assertEqual(smtp.received(), [])

    def test_an_embed_token_sees_and_redelivers_only_its_syncs(self):
        from test_embed import claims, mint
        os.environ["FERRY_TEST_EMBED_SECRET"] = "embed-secret-for-tests-0123456789abcdef"
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.config(self.webhook(rx.url()),
                    top={"embed": {"secret_env": "FERRY_TEST_EMBED_SECRET", "max_age": "10m"}})
        with self.serve() as server:
            mine = mint(claims(syncs=["t"]), secret="embed-secret-for-tests-0123456789abcdef")
            other = mint(claims(syncs=["elsewhere"]),
                         secret="embed-secret-for-tests-0123456789abcdef")
            r = server.request("POST", "/api/syncs/t/runs", headers=ferrytest.auth_headers(mine))
            self.assertEqual(r.status, 202, r)
            run = server.wait_run(r.json["id"])
            got = rx.wait(lambda p: len(p) >= 1, "the run")
            # who started it, as the run records it
            self.assertEqual(got[0][1]["run"]["user"], "olga@clinic.example via embed")
            path = "/api/runs/%d/deliveries" % run["id"]
            d = server.request("GET", path, headers=ferrytest.auth_headers(mine))
            self.assertEqual(d.status, 200, d)
            dlv = d.json["deliveries"][0]["id"]
            self.assertEqual(server.request("GET", path, headers=ferrytest.auth_headers(other))
                             .status, 403)
            redo = "/api/deliveries/%s/redeliver" % dlv
            self.assertEqual(server.request("POST", redo, headers=ferrytest.auth_headers(other))
                             .status, 403)
            self.assertEqual(server.request("POST", redo, headers=ferrytest.auth_headers(mine))
                             .status, 202)
            viewer = mint(claims(role="viewer", syncs=["t"]),
                          secret="embed-secret-for-tests-0123456789abcdef")
            self.assertEqual(server.request("POST", redo, headers=ferrytest.auth_headers(viewer))
                             .status, 403)

    @unittest.skipUnless(ferrytest.ON_POSTGRES, "pg_channel needs PostgreSQL")
    def test_pg_channel_is_notified_when_a_run_commits(self):
        self.config({"pg_channel": "app_sync"})
        psql = subprocess.Popen(["psql", "-X", "-q", "-At", self.database], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.addCleanup(psql.kill)
        psql.stdin.write("LISTEN app_sync;\nSELECT 'listening';\n")
        psql.stdin.flush()
        self.assertEqual(psql.stdout.readline().strip(), "listening")
        with self.serve() as server:
            run = server.run_to_end("t")
        out, _ = psql.communicate("SELECT 'done';\n", timeout=30)
        self.assertIn('Asynchronous notification "app_sync" with payload '
                      '"{"run_id":%d,"sync":"t"}"' % run["id"], out)


@unittest.skipIf(ferrytest.ON_POSTGRES, "runs once, in the integration suite (PostgreSQL-only)")
class TwoNodeTests(ferrytest.FerryTestCase):
    def test_two_nodes_deliver_each_delivery_exactly_once(self):
        url = ferrytest.pg_new_database()
        rx = Receiver()
        self.addCleanup(rx.stop)
        self.write_csv("people.csv", ["id", "name", "email"], people_rows(6))
        sync = sync_config("people.csv")
        sync["notify"] = {"webhook": {"url": rx.url(), "secret_env": "FERRY_TEST_WEBHOOK_SECRET",
                                      "records": True, "batch": 2}}
        cfg = json.loads(ferrytest.config_text({"t": sync}, database=url))
        cfg["workers"] = 1
        self.write_file("ferry.yaml", json.dumps(cfg, indent=2) + "\n")
        runs = []
        with self.serve() as a, self.serve() as b:
            for i in range(6):
                node = (a, b)[i % 2]
                rows = people_rows(6)
                rows[i][1] = "Changed %d" % i
                self.write_csv("people.csv", ["id", "name", "email"], rows)
                runs.append(node.run_to_end("t")["id"])
            # the first run creates 6 (3 batches); each later one changes 1 or 2 (1 batch)
            def complete(posts):
                ended = {b["run"]["id"] for _, b in posts if b["type"] == "run.finished"}
                last = {b["run_id"] for _, b in posts if b["type"] == "run.records" and b["last"]}
                return set(runs) <= ended and set(runs) <= last
            rx.wait(complete, "every run and its feed", timeout=60)
            delivered = ferrytest.pg_query_dicts(
                url, "SELECT count(*) AS n FROM ferry_deliveries WHERE status = 'delivered'")
            total = ferrytest.pg_query_dicts(url, "SELECT count(*) AS n FROM ferry_deliveries")
        ids = [h["Ferry-Delivery"] for h, _ in rx.bodies()]
        self.assertEqual(len(ids), len(set(ids)), "a delivery was sent twice")
        self.assertEqual(int(delivered[0]["n"]), len(ids))
        self.assertEqual(int(total[0]["n"]), len(ids))
        feeds = {}
        for _, b in rx.bodies():
            if b["type"] == "run.records":
                feeds.setdefault(b["run_id"], []).append(b["seq"])
        self.assertEqual(sorted(feeds[runs[0]]), [1, 2, 3])


if __name__ == "__main__":
    unittest.main()
