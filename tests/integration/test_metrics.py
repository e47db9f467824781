"""GET /metrics as Prometheus reads it, and GET /readyz (docs/api.md, "Metrics").

A few runs (succeeded and failed) and a webhook that fails once are made through the API;
then /metrics must pass `promtool check metrics` without a warning, every family must have
HELP and TYPE, and the figures must be the runs': runs ended and their records counted by
this process, the duration histogram's count equal to the runs ended, the last success's
timestamp equal to the run's end, the delivery attempts by outcome, build_info's version
equal to `ferry --version`'s. The counters are this process's, so deleting runs from the
database (as retention does) lowers the gauges and never the counters.

/readyz is 200 while the database answers at the schema version this binary writes, 503 with
a reason when the recorded version is older or newer, or when the database does not answer
(a PostgreSQL server of the test's own, stopped; on SQLite, a file that is no database).

promtool comes from Debian's prometheus package (`make deps-metrics`, which `make test`
runs); where it is missing, only the promtool assertions are skipped, saying why.
"""

import datetime
import http.client
import json
import os
import re
import shutil
import subprocess
import time
import unittest

import ferrytest
from ferrytest import people_rows, sync_config
from test_webhooks import Receiver

ALERTS = os.path.join(ferrytest.SOURCE_ROOT, "examples", "prometheus", "alerts.yml")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def promtool():
    """promtool's path, or None (printing why) when it is not installed."""
    path = shutil.which("promtool")
    if path is None:
        print("promtool is missing (Debian's prometheus package, `make deps-metrics`): "
              "its checks are skipped")
    return path


def unescape(value):
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse(text):
    """{(name, frozenset of (label, value)): float} of a text-format body, and the families
    named by HELP and by TYPE lines ({name: type})."""
    samples, helps, types = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            types[name] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset((k, unescape(v)) for k, v in LABEL.findall(m.group(2) or ""))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, helps, types


def family(name):
    """The family a sample name belongs to (a histogram's _bucket, _sum and _count)."""
    return re.sub(r'_(bucket|sum|count)$', '', name)


def epoch(iso):
    return datetime.datetime.strptime(iso.replace("Z", "+0000"),
                                      "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class MetricsTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.rx = Receiver(answers=(500,))
        self.addCleanup(self.rx.stop)
        self.write_csv("people.csv", ["id", "name", "email"], people_rows(5))
        good = sync_config("people.csv")
        good["notify"] = {"webhook": {"url": self.rx.url(),
                                       "secret_env": "FERRY_TEST_WEBHOOK_SECRET"}}
        bad = sync_config("missing.csv", table="others")
        cfg = json.loads(ferrytest.config_text({"good": good, "bad": bad}, self.database))
        cfg["notify_retry_base"] = "200ms"
        self.write_config(json.dumps(cfg, indent=2) + "\n")

    def metrics(self, srv):
        r = srv.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.header("Content-Type"), "text/plain; version=0.0.4")
        return r.body.decode()

    def check_with_promtool(self, text):
        path = promtool()
        if path is None:
            return
        r = subprocess.run([path, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "promtool: %s%s\n%s" % (r.stdout, r.stderr, text))
        self.assertEqual((r.stdout + r.stderr).strip(), "", "promtool warned")

    def value(self, samples, name, **labels):
        key = (name, frozenset(labels.items()))
        self.assertIn(key, samples, "no %s%r" % (name, labels))
        return samples[key]

    def test_runs_and_deliveries_are_counted_in_a_text_promtool_accepts(self):
        with self.serve() as srv:
            srv.run_to_end("good")
            last = srv.run_to_end("good")
            srv.run_to_end("bad", status="failed")
            # The first attempt of each of the two webhooks is refused (500): one retried,
            # then both delivered.
            self.rx.wait(lambda p: len(p) >= 3, "three posts")
            deadline = time.monotonic() + 30
            while True:
                samples, _, _ = parse(self.metrics(srv))
                done = self.value(samples, "ferry_outbox_deliveries_total", outcome="delivered")
                if done == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            text = self.metrics(srv)
        self.check_with_promtool(text)
        samples, helps, types = parse(text)
        for name, _ in samples:
            self.assertIn(family(name), helps, "no HELP for %s" % name)
            self.assertIn(family(name), types, "no TYPE for %s" % name)
        for name, kind in types.items():
            self.assertEqual(kind == "counter", name.endswith("_total"), name)
        self.assertNotIn("ferry_records{", text)
        self.assertNotIn("ferry_http_requests{", text)

        v = lambda name, **labels: self.value(samples, name, **labels)  # noqa: E731
        self.assertEqual(v("ferry_runs_finished_total", sync="good", status="succeeded"), 2)
        self.assertEqual(v("ferry_runs_finished_total", sync="good", status="failed"), 0)
        self.assertEqual(v("ferry_runs_finished_total", sync="bad", status="failed"), 1)
        self.assertEqual(v("ferry_records_total", sync="good", outcome="created"), 5)
        self.assertEqual(v("ferry_records_total", sync="good", outcome="unchanged"), 5)
        self.assertEqual(v("ferry_run_duration_seconds_count", sync="good"), 2)
        self.assertEqual(v("ferry_run_duration_seconds_count", sync="bad"), 1)
        self.assertEqual(v("ferry_run_duration_seconds_bucket", sync="good", le="+Inf"), 2)
        self.assertEqual(types["ferry_run_duration_seconds"], "histogram")
        self.assertEqual(v("ferry_runs", sync="good", status="succeeded"), 2)
        self.assertEqual(v("ferry_runs", sync="bad", status="failed"), 1)
        self.assertAlmostEqual(v("ferry_last_success_timestamp_seconds", sync="good", tenant=""),
                               epoch(last["finished_at"]), places=3)
        self.assertNotIn(("ferry_last_success_timestamp_seconds",
                          frozenset({("sync", "bad"), ("tenant", "")})), samples)
        self.assertEqual(v("ferry_outbox_deliveries_total", outcome="delivered"), 2)
        self.assertEqual(v("ferry_outbox_deliveries_total", outcome="retried"), 1)
        self.assertEqual(v("ferry_outbox_deliveries_total", outcome="failed"), 1)
        self.assertEqual(v("ferry_outbox_deliveries_total", outcome="abandoned"), 0)
        self.assertEqual(v("ferry_outbox_pending"), 0)
        self.assertEqual(v("ferry_queue_depth"), 0)
        for table in ("changes", "runs", "audit", "deliveries"):
            self.assertEqual(v("ferry_pruned_rows_total", table=table), 0)
        self.assertGreaterEqual(v("ferry_http_requests_total", route="/api/syncs/{name}/runs",
                                  code="202"), 3)
        _, out, _ = self.run_ferry("--version")
        build = [labels for name, labels in samples if name == "ferry_build_info"]
        self.assertEqual(len(build), 1)
        info = dict(build[0])
        self.assertEqual("ferry " + info["version"], out.strip())
        self.assertRegex(info["sqlite"], r"^3\.\d+")
        self.assertRegex(info["curl"], r"^\d+\.\d+")

    def test_counters_stay_when_runs_are_deleted(self):
        with self.serve() as srv:
            srv.run_to_end("good")
            self.rx.wait(lambda p: len(p) >= 2, "two posts")
            srv.run_to_end("bad", status="failed")
            self.exec_script("DELETE FROM ferry_delivery_attempts; DELETE FROM ferry_deliveries;"
                             " DELETE FROM ferry_changes; DELETE FROM ferry_runs;")
            text = self.metrics(srv)
        samples, _, _ = parse(text)
        self.assertEqual(self.value(samples, "ferry_runs", sync="good", status="succeeded"), 0)
        self.assertEqual(self.value(samples, "ferry_runs_finished_total", sync="good",
                                    status="succeeded"), 1)
        self.assertEqual(self.value(samples, "ferry_runs_finished_total", sync="bad",
                                    status="failed"), 1)
        self.assertEqual(self.value(samples, "ferry_records_total", sync="good",
                                    outcome="created"), 5)
        self.assertEqual(self.value(samples, "ferry_run_duration_seconds_count", sync="good"), 1)
        self.assertFalse([k for k in samples if k[0] == "ferry_last_success_timestamp_seconds"])

    def test_a_queued_run_cancelled_counts_as_ended_and_untimed(self):
        url, gate = self.gated_csv_route("/slow.csv", ["id", "name", "email"], people_rows(40))
        cfg = json.loads(ferrytest.config_text({"slow": sync_config(url, table="slow"),
                                                "b": sync_config("people.csv")}, self.database))
        cfg["workers"] = 1
        self.write_config(json.dumps(cfg, indent=2) + "\n")
        with self.serve() as srv:
            slow = srv.start_run("slow")["id"]
            srv.wait_run(slow, lambda r: r["status"] == "running", what="to run")
            queued = srv.start_run("b")["id"]
            self.assertEqual(srv.get_json("/api/runs/%d" % queued)["status"], "queued")
            self.assertEqual(srv.post("/api/runs/%d/cancel" % queued).status, 200)
            self.assertEqual(srv.wait_run(queued)["status"], "cancelled")
            gate.set()
            self.assertEqual(srv.wait_run(slow)["status"], "succeeded")
            samples, _, _ = parse(self.metrics(srv))
        self.assertEqual(self.value(samples, "ferry_runs_finished_total", sync="b",
                                    status="cancelled"), 1)
        self.assertEqual(self.value(samples, "ferry_run_duration_seconds_count", sync="b"), 0)
        self.assertEqual(self.value(samples, "ferry_runs_finished_total", sync="slow",
                                    status="succeeded"), 1)
        self.assertEqual(self.value(samples, "ferry_run_duration_seconds_count", sync="slow"), 1)

    def test_alert_rules_example_passes_promtool(self):
        path = promtool()
        if path is None:
            self.skipTest("promtool is missing")
        r = subprocess.run([path, "check", "rules", ALERTS], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("SUCCESS", r.stdout)


class ReadyTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.write_csv("people.csv", ["id", "name", "email"], people_rows(2))
        self.write_config({"t": sync_config("people.csv")}, self.database)

    def set_schema_version(self, version):
        if ferrytest.ON_POSTGRES:
            self.exec_script("UPDATE ferry_schema_version SET version = %d;" % version)
        else:
            self.exec_script("PRAGMA user_version = %d;" % version)

    def schema_version(self):
        if ferrytest.ON_POSTGRES:
            return self.query("SELECT max(version) FROM ferry_schema_version")[0][0]
        return self.query("PRAGMA user_version")[0][0]

    def wait_ready(self, srv, status, what, conn=None):
        """/readyz until it answers status (a success is reused for a second); on conn, a
        kept-alive connection, when given."""
        deadline = time.monotonic() + 15
        while True:
            if conn is None:
                r = srv.get("/readyz", auth=False)
                got, body = r.status, r.json
            else:
                conn.request("GET", "/readyz")
                answer = conn.getresponse()
                got, raw = answer.status, answer.read()
                body = json.loads(raw)
            if got == status or time.monotonic() > deadline:
                self.assertEqual(got, status, "/readyz %s: %r" % (what, body))
                return body
            time.sleep(0.05)

    def test_ready_only_at_this_binarys_schema_version(self):
        with self.serve() as srv:
            # One connection, so one of the server's threads and its open store: a store
            # opened anew migrates (or refuses a newer schema) before anything is asked.
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            self.addCleanup(conn.close)
            ready = lambda status, what: self.wait_ready(srv, status, what, conn)  # noqa: E731
            self.assertEqual(ready(200, "at start"), {"status": "ready"})
            version = self.schema_version()
            self.set_schema_version(version - 1)
            body = ready(503, "with an older schema")
            self.assertEqual(body, {"status": "unready", "reason": "schema_older",
                                    "schema_version": version - 1,
                                    "expected_schema_version": version})
            self.set_schema_version(version + 1)
            body = ready(503, "with a newer schema")
            self.assertEqual(body["reason"], "schema_newer")
            self.assertEqual(body["schema_version"], version + 1)
            self.set_schema_version(version)
            ready(200, "at its schema again")
            # Counted like /healthz, and open without credentials.
            samples, _, _ = parse(srv.get("/metrics").body.decode())
            self.assertGreaterEqual(samples[("ferry_http_requests_total", frozenset(
                {("route", "/readyz"), ("code", "503")}))], 2)

    def test_under_a_base_path_it_answers_at_the_port_too(self):
        cfg = json.loads(ferrytest.config_text({"t": sync_config("people.csv")}, self.database))
        cfg["base_path"] = "/ferry"
        self.write_config(json.dumps(cfg, indent=2) + "\n")
        with self.serve() as srv:
            for path in ("/readyz", "/ferry/readyz"):
                r = srv.get(path, auth=False)
                self.assertEqual((r.status, r.json), (200, {"status": "ready"}), path)

    @ferrytest.sqlite_only("the SQLite file itself")
    def test_a_database_file_moved_away_is_unready(self):
        with self.serve() as srv:
            # One connection: a store opened anew would make a new, empty database file.
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            self.addCleanup(conn.close)
            self.wait_ready(srv, 200, "at start", conn)
            os.rename(self.db_path, self.db_path + ".moved")
            body = self.wait_ready(srv, 503, "with its file moved away", conn)
            self.assertEqual(body["status"], "unready")
            self.assertEqual(body["reason"], "database_unreachable")
            self.assertIn("moved or deleted", body["error"])
            os.rename(self.db_path + ".moved", self.db_path)
            self.wait_ready(srv, 200, "with its file back", conn)


@unittest.skipIf(ferrytest.ON_POSTGRES, "runs once, in the integration suite (a server of its own)")
class PgReadyTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.pg = ferrytest.OwnPgServer(self)
        self.write_csv("people.csv", ["id", "name", "email"], people_rows(2))
        self.write_file("ferry.yaml", ferrytest.config_text({"t": sync_config("people.csv")},
                                                            database=self.pg.url))

    def test_a_stopped_server_is_unready_without_secrets(self):
        with self.serve() as srv:
            self.assertEqual(srv.get("/readyz", auth=False).status, 200)
            self.pg.stop()
            deadline = time.monotonic() + 15
            while True:
                r = srv.get("/readyz", auth=False)
                if r.status == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json["status"], "unready")
            self.assertEqual(r.json["reason"], "database_unreachable")
            password = re.search(r'://[^:/@]*:([^@]*)@', self.pg.url)
            if password and password.group(1):
                self.assertNotIn(password.group(1), r.body.decode())
            srv.kill()


if __name__ == "__main__":
    ferrytest.main()
