"""Log lines (docs/config.md, "log"): with `log: {format: json}` every line `ferry serve` writes
on stderr is one JSON object with time, level and msg; a run's lines carry run and sync; at
debug level each API request has a line carrying its request id, which the answer's
X-Request-Id header gives back (the client's own when it is a sane one). The level comes from
--log-level, else FERRY_LOG_LEVEL, else log.level, else info; a level that is not one is a
usage error.
"""

import json
import os
import re
import unittest
from unittest import mock

import ferrytest
from ferrytest import config_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
GENERATED_ID = re.compile(r"^[0-9a-f]{16}$")


class LogTestCase(ferrytest.FerryTestCase):
    def write_logging_config(self, log):
        """Sync t, and sync tt with tenants (org-1)."""
        tt = sync_config("people-{org_id}.csv", table="tpeople")
        tt["tenant"] = {"variable": "org_id", "column": "organization_id", "values": ["org-1"]}
        cfg = json.loads(config_text({"t": sync_config("people.csv"), "tt": tt}))
        if log is not None:
            cfg["log"] = log
        self.write_config(json.dumps(cfg, indent=2) + "\n")
        self.write_csv("people.csv", HEADER, people_rows(3))
        self.write_csv("people-org-1.csv", HEADER, people_rows(2))

    def json_lines(self, text):
        """Every line of text as a JSON object (fails on the first that is not one)."""
        objs = []
        for line in text.splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail("not a JSON line: %r\nstderr:\n%s" % (line, text))
            self.assertIsInstance(obj, dict, line)
            self.assertRegex(obj.get("time", ""), ISO_MS, line)
            self.assertIn(obj.get("level"), ("debug", "info", "warn", "error"), line)
            self.assertIsInstance(obj.get("msg"), str, line)
            objs.append(obj)
        return objs

    def viewer_token(self):
        self.make_user("watcher", "viewer")
        return self.make_token("watcher")


class JsonLogTest(LogTestCase):
    def test_every_line_is_json_and_runs_and_requests_are_named(self):
        self.write_logging_config({"format": "json", "level": "debug"})
        with self.serve() as srv:
            r = srv.post("/api/syncs/t/runs", headers={"X-Request-Id": "it-run.1_A"})
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.header("X-Request-Id"), "it-run.1_A")
            run_id = r.json["id"]
            self.assertEqual(srv.wait_run(run_id)["status"], "succeeded")
            # an id that is not a sane one is replaced, and the answer says by what
            bad = srv.get("/api/runs/%d" % run_id, headers={"X-Request-Id": "a b\"c"})
            self.assertEqual(bad.status, 200)
            made = bad.header("X-Request-Id")
            self.assertRegex(made or "", GENERATED_ID)
            # a run for a tenant: its lines name the tenant too (no call site writes it)
            r = srv.post("/api/syncs/tt/runs", {"tenant": "org-1"})
            self.assertEqual(r.status, 202, r)
            tenant_run = r.json["id"]
            self.assertEqual(srv.wait_run(tenant_run)["status"], "succeeded")
            srv.wait_log('"msg":"run finished","run":%d' % tenant_run)
            srv.stop()
        lines = self.json_lines(srv.stderr_text())

        run_lines = [o for o in lines if o["msg"] in ("run started", "run finished")]
        self.assertEqual(len(run_lines), 4, lines)
        for o in run_lines:
            self.assertEqual(o["level"], "info", o)
            if o.get("run") == run_id:
                self.assertEqual(o.get("sync"), "t", o)
                self.assertNotIn("tenant", o)
            else:
                self.assertEqual((o.get("run"), o.get("sync"), o.get("tenant")),
                                 (tenant_run, "tt", "org-1"), o)

        posted = [o for o in lines if o["msg"] == "request" and o.get("request") == "it-run.1_A"]
        self.assertEqual(len(posted), 1, lines)
        self.assertEqual((posted[0]["level"], posted[0]["method"], posted[0]["path"],
                          posted[0]["status"]), ("debug", "POST", "/api/syncs/t/runs", 202))
        self.assertIsInstance(posted[0]["duration_ms"], int)
        got = [o for o in lines if o["msg"] == "request" and o.get("request") == made]
        self.assertEqual([(o["path"], o["status"]) for o in got],
                         [("/api/runs/%d" % run_id, 200)])

    def test_a_refusal_is_one_json_line_with_its_request(self):
        self.write_logging_config({"format": "json"})
        with self.serve() as srv:
            token = self.viewer_token()
            r = srv.post("/api/syncs/t/runs", headers={"Authorization": "Bearer " + token,
                                                       "X-Request-Id": "viewer-1"})
            self.assertEqual(r.status, 403, r)
            srv.wait_log('"msg":"refused"')
            srv.stop()
        lines = self.json_lines(srv.stderr_text())
        refused = [o for o in lines if o["msg"] == "refused"]
        self.assertEqual(len(refused), 1, lines)
        self.assertEqual((refused[0]["level"], refused[0]["user"], refused[0]["request"]),
                         ("warn", "watcher", "viewer-1"))
        self.assertNotIn(token, srv.stderr_text())
        # info by default: no request lines
        self.assertEqual([o for o in lines if o["level"] == "debug"], [])


class LevelTest(LogTestCase):
    def run_and_refuse(self, srv, request_id="r-1"):
        """A run (info lines) and a viewer refused (a warn line)."""
        srv.run_to_end("t")
        r = srv.post("/api/syncs/t/runs", headers={
            "Authorization": "Bearer " + self.viewer_token(), "X-Request-Id": request_id})
        self.assertEqual(r.status, 403, r)

    def test_log_level_option_leaves_out_info_lines(self):
        self.write_logging_config({"format": "json", "level": "debug"})
        with self.serve("--log-level", "warn") as srv:
            self.run_and_refuse(srv)
            srv.wait_log('"msg":"refused"')
            srv.stop()
        lines = self.json_lines(srv.stderr_text())
        self.assertEqual(sorted({o["level"] for o in lines}), ["warn"], lines)

    def test_environment_level_error_leaves_out_warn_and_info_lines(self):
        self.write_logging_config({"level": "debug"})
        with mock.patch.dict(os.environ, {"FERRY_LOG_LEVEL": "error"}):
            with self.serve() as srv:
                self.run_and_refuse(srv)
                srv.stop()
        self.assertNotIn("level=info", srv.stderr_text())
        self.assertNotIn("level=warn", srv.stderr_text())
        self.assertNotIn("level=debug", srv.stderr_text())

    def test_log_level_option_wins_over_the_environment(self):
        self.write_logging_config({"level": "error"})
        with mock.patch.dict(os.environ, {"FERRY_LOG_LEVEL": "error"}):
            with self.serve("--log-level", "debug") as srv:
                r = srv.get("/api/syncs", headers={"X-Request-Id": "text-1"})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("X-Request-Id"), "text-1")
                srv.wait_log("request=text-1")
                srv.stop()
        line = [x for x in srv.stderr_text().splitlines() if "request=text-1" in x]
        self.assertEqual(len(line), 1, srv.stderr_text())
        self.assertRegex(line[0], r"^\S+Z level=debug msg=\"request\" method=GET path=/api/syncs "
                                  r"status=200 duration_ms=\d+ request=text-1$")

    def test_environment_level_wins_over_the_config(self):
        self.write_logging_config({"level": "error"})
        with mock.patch.dict(os.environ, {"FERRY_LOG_LEVEL": "info"}):
            with self.serve() as srv:
                srv.run_to_end("t")
                srv.wait_log('msg="run finished"')
                srv.stop()
        self.assertIn("level=info msg=\"run started\"", srv.stderr_text())

    def test_config_level_applies_without_option_or_environment(self):
        self.write_logging_config({"level": "warn"})
        with mock.patch.dict(os.environ, {"FERRY_LOG_LEVEL": ""}):
            with self.serve() as srv:
                srv.run_to_end("t")
                srv.stop()
        self.assertNotIn("level=info", srv.stderr_text())


class LevelErrorTest(LogTestCase):
    def test_levels_that_are_not_levels_are_usage_errors(self):
        self.write_logging_config(None)
        code, _, err = self.run_ferry("runs", "--log-level", "loud")
        self.assertEqual((code, err), (2, "ferry: --log-level takes debug, info, warn or error, "
                                          "not 'loud'\n"))
        code, _, err = self.run_ferry("runs", env={"FERRY_LOG_LEVEL": "verbose"})
        self.assertEqual((code, err), (2, "ferry: FERRY_LOG_LEVEL is 'verbose', not a log level "
                                          "(debug, info, warn or error)\n"))
        # never ignored, even with --log-level
        code, _, err = self.run_ferry("--log-level", "warn", "runs",
                                      env={"FERRY_LOG_LEVEL": "verbose"})
        self.assertEqual(code, 2, err)
        self.assertIn("FERRY_LOG_LEVEL", err)
        code, out, err = self.run_ferry("--log-level", "warn", "runs")
        self.assertEqual(code, 0, err)

    def test_a_bad_log_section_is_a_config_error(self):
        self.write_file("ferry.yaml", "log:\n  format: xml\n"
                        "syncs:\n  t:\n    source: {url: people.csv}\n"
                        "    target: {table: people, key: [id]}\n    fields: {id: {}}\n")
        code, _, err = self.run_ferry("check")
        self.assertEqual(code, 2, err)
        self.assertIn("ferry.yaml:2: log.format: unknown log format 'xml' (expected text or json)",
                      err)


if __name__ == "__main__":
    unittest.main()
