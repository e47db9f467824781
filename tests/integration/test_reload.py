"""Reloading the config of a running `ferry serve` (SIGHUP, POST /api/config/reload) and its
native HTTPS (tls: { cert, key }).

A reload loads the file again with every check of a start; a config it refuses (a YAML error,
an unknown key, a missing TLS file) changes nothing, and its error (file:line: key) is logged.
An accepted one serves new requests, runs and schedules at once, while a run already running
finishes on the config it started with (a source held back by a gate keeps it running for as
long as the test needs). With tls:, a reload swaps the certificate for new connections.
"""

import hashlib
import http.client
import http.server
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
RELOADED = 'msg="config reloaded"'
REFUSED = 'msg="config reload refused: the old config keeps serving"'


class ReloadTestCase(ferrytest.FerryTestCase):
    def config(self):
        with open(self.config_path, encoding="utf-8") as f:
            return f.read()

    def fast(self, path, n=5):
        return self.server.route(path, body=csv_text(HEADER, people_rows(n)))

    def sync(self, path, table, n=5, **extra):
        s = sync_config(self.fast(path, n), table=table)
        s.update(extra)
        return s

    def hup_and_wait(self, srv, what, count):
        """Sends SIGHUP and waits until the log holds what count times (bounded)."""
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while srv.stderr_text().count(what) < count:
            if time.monotonic() > deadline:
                self.fail("no %d x %r in the log; stderr:\n%s" % (count, what, srv.stderr_text()))
            time.sleep(0.02)

    def sync_names(self, srv):
        return sorted(s["name"] for s in srv.get_json("/api/syncs")["syncs"])

    def wait_sync_field(self, srv, name, field, predicate):
        deadline = time.monotonic() + 15
        while True:
            got = {s["name"]: s for s in srv.get_json("/api/syncs")["syncs"]}[name][field]
            if predicate(got):
                return got
            if time.monotonic() > deadline:
                self.fail("%s.%s is still %r" % (name, field, got))
            time.sleep(0.1)


class SighupTest(ReloadTestCase):
    def test_sighup_adds_removes_and_reschedules_while_a_running_run_keeps_its_config(self):
        url, gate = self.gated_csv_route("/slow.csv", HEADER, people_rows(200))
        slow = sync_config(url, table="slow_people")
        kept = self.sync("/kept.csv", "kept", schedule="every 1h")
        self.write_config({"slow": slow, "kept": kept, "gone": self.sync("/gone.csv", "gone")})
        with self.serve() as srv:
            run = srv.start_run("slow")
            srv.wait_run(run["id"], lambda r: r["status"] == "running", what="to start")
            first = self.wait_sync_field(srv, "kept", "next_run_at", lambda v: v is not None)
            self.assertRegex(first, r":00:00")

            # slow and gone are removed, added is new, kept's schedule changes
            self.write_config({"kept": self.sync("/kept.csv", "kept", schedule='cron "7 3 * * *"'),
                               "added": self.sync("/added.csv", "added")})
            self.hup_and_wait(srv, RELOADED, 1)
            self.assertIn('added="added"', srv.stderr_text())
            self.assertIn('removed="slow,gone"', srv.stderr_text())

            self.assertEqual(self.sync_names(srv), ["added", "kept"])
            self.assertEqual(srv.post("/api/syncs/gone/runs").status, 404)
            self.assertEqual(srv.post("/api/syncs/slow/runs").status, 404)
            srv.run_to_end("added")
            self.assertEqual(self.query("SELECT count(*) FROM added")[0][0], 5)
            self.wait_sync_field(srv, "kept", "next_run_at", lambda v: v.endswith("T03:07:00.000Z"))
            self.assertEqual({s["name"]: s for s in srv.get_json("/api/syncs")["syncs"]}["kept"]["schedule"],
                             'cron "7 3 * * *"')

            # the run started before the reload finishes on its own config
            gate.set()
            done = srv.wait_run(run["id"], lambda r: r["status"] != "running")
            self.assertEqual(done["status"], "succeeded", done)
            self.assertEqual(self.query("SELECT count(*) FROM slow_people")[0][0], 200)

    def test_a_new_time_zone_moves_the_next_run_at_once(self):
        # The same cron schedule read in another zone is another schedule: its due time is
        # worked out again, not kept from the old zone until it fires.
        nightly = self.sync("/n.csv", "nightly", schedule='cron "0 2 * * *"')
        self.write_config({"nightly": nightly})
        with self.serve() as srv:
            self.wait_sync_field(srv, "nightly", "next_run_at",
                                 lambda v: v is not None and v.endswith("T02:00:00.000Z"))
            self.write_config({"nightly": dict(nightly, timezone="Asia/Jakarta")})
            self.hup_and_wait(srv, RELOADED, 1)
            self.wait_sync_field(srv, "nightly", "next_run_at",
                                 lambda v: v is not None and v.endswith("T19:00:00.000Z"))
            self.assertEqual({s["name"]: s for s in srv.get_json("/api/syncs")["syncs"]}
                             ["nightly"]["timezone"], "Asia/Jakarta")

    def test_broken_configs_are_refused_and_the_old_one_keeps_serving(self):
        self.write_config({"a": self.sync("/a.csv", "a")})
        good = self.config()
        broken = [
            ("yaml", good.replace('"syncs": {', '"syncs": {{', 1), "YAML"),
            ("unknown key", good.replace('"syncs": {', '"colour": "red",\n  "syncs": {', 1),
             "colour"),
            ("missing tls file",
             good.replace('"syncs": {', '"tls": {"cert": "no.pem", "key": "no.key"},\n'
                          '  "syncs": {', 1), "no.pem"),
            ("unknown time zone",
             good.replace('"syncs": {', '"timezone": "Asia/Jakata",\n  "syncs": {', 1),
             "Asia/Jakata"),
            ("unset variable",
             good.replace('"syncs": {', '"public_url": "${FERRY_TEST_NEVER_SET}",\n'
                          '  "syncs": {', 1), "FERRY_TEST_NEVER_SET"),
        ]
        with self.serve() as srv:
            for i, (what, text, word) in enumerate(broken, start=1):
                with self.subTest(what):
                    self.write_file("ferry.yaml", text)
                    self.hup_and_wait(srv, REFUSED, i)
                    line = [ln for ln in srv.stderr_text().splitlines() if REFUSED in ln][-1]
                    self.assertIn("level=error", line)
                    self.assertRegex(line, r"ferry\.yaml:\d+:")
                    self.assertIn(word, line)
                    self.assertEqual(self.sync_names(srv), ["a"])
                    srv.run_to_end("a")
            self.assertNotIn(RELOADED, srv.stderr_text())


class HookReceiver:
    """A loopback server counting the webhook POSTs it receives."""

    def __init__(self):
        self.posts = 0
        self.last = None  # the last body, as JSON
        outer = self

        class Handler(ferrytest.QuietHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.last = json.loads(body)
                outer.posts += 1
                self.reply(200, b"{}")
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class NotifyReloadTest(ReloadTestCase):
    def test_a_delivery_after_a_reload_goes_to_the_new_endpoint(self):
        os.environ["FERRY_TEST_RELOAD_SECRET"] = "whsec-reload-5e1d"
        first, second = HookReceiver(), HookReceiver()
        self.addCleanup(first.stop)
        self.addCleanup(second.stop)

        def config(url):
            sync = self.sync("/a.csv", "a")
            sync["notify"] = [{"webhook": {"url": url, "secret_env": "FERRY_TEST_RELOAD_SECRET"}}]
            self.write_config({"a": sync})
        config(first.url)
        with self.serve() as srv:
            srv.run_to_end("a")
            deadline = time.monotonic() + 30
            while first.posts < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(first.posts, 1)
            config(second.url)
            self.assertEqual(srv.post("/api/config/reload").status, 200)
            srv.run_to_end("a")
            deadline = time.monotonic() + 30
            while second.posts < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual((first.posts, second.posts), (1, 1))


class ApiReloadTest(ReloadTestCase):
    def test_admin_reloads_operator_is_refused_and_each_is_audited(self):
        self.write_config({"a": self.sync("/a.csv", "a"), "b": self.sync("/b.csv", "b")})
        with self.serve() as srv:
            self.make_user("olga", "operator")
            operator = self.make_token("olga")
            r = srv.request("POST", "/api/config/reload", headers=ferrytest.auth_headers(operator))
            self.assertEqual(r.status, 403, r)

            self.write_config({"a": self.sync("/a.csv", "a"), "c": self.sync("/c.csv", "c")})
            r = srv.post("/api/config/reload")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json, {"syncs": ["a", "c"], "added": ["c"], "removed": ["b"],
                                      "warnings": []})
            self.assertEqual(self.sync_names(srv), ["a", "c"])

            text = self.config().replace('"syncs": {', '"syncs": 7, "x": {', 1)
            self.write_file("ferry.yaml", text)
            r = srv.post("/api/config/reload")
            self.assertEqual(r.status, 422, r)
            self.assertEqual(r.json["error"]["code"], "config", r)
            self.assertRegex(r.json["error"]["message"], r"ferry\.yaml:\d+: ")
            self.assertEqual(self.sync_names(srv), ["a", "c"])
            srv.wait_log(REFUSED)

            audit = [e for e in srv.get_json("/api/audit")["entries"]
                     if e["action"] == "config.reload"]
            self.assertEqual(len(audit), 2, audit)
            self.assertTrue(all(e["actor"] == ferrytest.ADMIN_USER for e in audit), audit)
            details = sorted(e["detail"] for e in audit)
            self.assertTrue(details[0].startswith("refused: "), details)
            self.assertTrue(details[1].startswith("reloaded: 2 syncs, 1 added, 1 removed"),
                            details)

    def test_settings_that_need_a_restart_are_kept_with_a_warning(self):
        self.write_config({"a": self.sync("/a.csv", "a")})
        with self.serve() as srv:
            text = self.config().replace(
                '"syncs": {', '"listen": "127.0.0.1:1", "workers": 7,\n  "syncs": {', 1)
            self.write_file("ferry.yaml", text)
            r = srv.post("/api/config/reload")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["warnings"],
                             ["listen changed: restart Ferry for it to take effect",
                              "workers changed: restart Ferry for it to take effect"])
            srv.wait_log("listen changed: restart Ferry for it to take effect")
            self.assertEqual(srv.get("/healthz").status, 200)  # still on its port

    def test_the_event_stream_announces_a_reload(self):
        self.write_config({"a": self.sync("/a.csv", "a")})
        with self.serve() as srv:
            stream = srv.events()
            self.write_config({"b": self.sync("/b.csv", "b")})
            self.assertEqual(srv.post("/api/config/reload").status, 200)
            ev = stream.events_until(lambda e: e["event"] == "config.reloaded")[-1]
            self.assertEqual(ev["data"], {"syncs": ["b"], "added": ["b"], "removed": ["a"]})


# ---- HTTPS ----

def make_pair(directory, name):
    """A self-signed certificate for 127.0.0.1 and its key (openssl CLI); returns the
    paths and the certificate's SHA-256 fingerprint (of its DER form)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=" + name, "-addext",
                    "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    with open(cert, encoding="ascii") as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return cert, key, hashlib.sha256(der).hexdigest()


class HttpsTest(ReloadTestCase):
    def start_https(self, lines):
        """Starts ferry serve on tls:, its stderr lines appended to lines; returns (process,
        port, the admin's token)."""
        token = self._admin_token_for(())
        proc = self.start_ferry("serve", "--listen", "127.0.0.1:0")

        def pump():
            for raw in iter(proc.stderr.readline, b""):
                lines.append(raw.decode("utf-8", "replace"))
        threading.Thread(target=pump, daemon=True).start()
        line, seen, _ = ferrytest.read_line_until(
            proc.stdout, lambda ln: ln.startswith("Ferry is listening on"),
            time.monotonic() + 15)
        self.assertIsNotNone(line, "no listening line: %r; stderr: %r" % (seen, lines))
        self.assertTrue(line.startswith("Ferry is listening on https://127.0.0.1:"), line)
        port = int(line.split(":")[2].split("/")[0])
        return proc, port, token

    def connect(self, port, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        return http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)

    def fingerprint(self, port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw) as s:
                return hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()

    def wait_stderr(self, lines, what, count):
        deadline = time.monotonic() + 15
        while sum(what in ln for ln in list(lines)) < count:
            if time.monotonic() > deadline:
                self.fail("no %d x %r in %r" % (count, what, lines))
            time.sleep(0.02)

    def test_https_serves_reloads_its_certificate_and_keeps_it_when_a_key_is_missing(self):
        one = make_pair(self.dir, "one")
        two = make_pair(self.dir, "two")
        os.replace(one[0], self.path("site.crt"))
        os.replace(one[1], self.path("site.key"))
        os.environ["FERRY_TEST_RELOAD_SECRET"] = "whsec-reload-5e1d"
        hook = HookReceiver()
        self.addCleanup(hook.stop)
        sync = self.sync("/a.csv", "a")
        sync["notify"] = [{"webhook": {"url": hook.url, "secret_env": "FERRY_TEST_RELOAD_SECRET"}}]
        self.write_file("ferry.yaml", config_text_with_tls({"a": sync}, "site.crt", "site.key"))
        password = self.make_user("hedy", "admin")
        lines = []
        proc, port, token = self.start_https(lines)
        try:
            conn = self.connect(port, self.path("site.crt"))
            conn.request("GET", "/api/syncs", headers=ferrytest.auth_headers(token))
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual([s["name"] for s in json.loads(r.read())["syncs"]], ["a"])
            conn.request("POST", "/api/login", body=json.dumps({"user": "hedy",
                                                                "password": password}),
                         headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            cookie = r.getheader("Set-Cookie")
            self.assertIn("; Secure", cookie)
            conn.close()
            self.assertEqual(self.fingerprint(port), one[2])

            # a run's link in a delivery says https:// (public_url's default under tls)
            conn = self.connect(port, self.path("site.crt"))
            conn.request("POST", "/api/syncs/a/runs", headers=ferrytest.auth_headers(token))
            r = conn.getresponse()
            self.assertEqual(r.status, 202)
            run_id = json.loads(r.read())["id"]
            conn.close()
            deadline = time.monotonic() + 30
            while hook.posts < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(hook.last["run"]["url"], "https://127.0.0.1:8080/#/runs/%d" % run_id)

            # a new pair in the same files, then SIGHUP: new connections get it
            os.replace(two[0], self.path("site.crt"))
            os.replace(two[1], self.path("site.key"))
            proc.send_signal(signal.SIGHUP)
            self.wait_stderr(lines, RELOADED, 1)
            self.assertEqual(self.fingerprint(port), two[2])
            conn = self.connect(port, self.path("site.crt"))  # verified with the new CA
            conn.request("GET", "/healthz")
            self.assertEqual(conn.getresponse().status, 200)
            conn.close()

            # a missing key is refused; the pair served stays
            os.unlink(self.path("site.key"))
            proc.send_signal(signal.SIGHUP)
            self.wait_stderr(lines, REFUSED, 1)
            refused = [ln for ln in lines if REFUSED in ln][0]
            self.assertRegex(refused, r"ferry\.yaml:\d+: tls")
            self.assertIn("site.key", refused)
            self.assertEqual(self.fingerprint(port), two[2])
            self.assertNotIn("PRIVATE KEY", "".join(lines))
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=15)
        self.assertEqual(proc.returncode, 0)

    def test_a_key_of_another_certificate_is_a_config_error(self):
        one = make_pair(self.dir, "one")
        two = make_pair(self.dir, "two")
        self.write_file("ferry.yaml",
                        config_text_with_tls({"a": self.sync("/a.csv", "a")}, one[0], two[1]))
        code, _, err = self.run_ferry("check")
        self.assertNotEqual(code, 0)
        self.assertRegex(err, r"ferry\.yaml:\d+: tls: the key file '.*two\.key' is not the key "
                              r"of the certificate")


def config_text_with_tls(syncs, cert, key):
    cfg = json.loads(ferrytest.config_text(syncs))
    cfg["tls"] = {"cert": cert, "key": key}
    return json.dumps(cfg, indent=2) + "\n"


if __name__ == "__main__":
    import unittest
    unittest.main()
