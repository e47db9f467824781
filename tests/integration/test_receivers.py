"""test_receivers.py - the webhook receivers of examples/receivers, run as an app would run them.

Each receiver (Express on node; Django on Debian's python3-django; the Rails controller on
Debian's ActionPack, and the plain-Ruby FerryWebhook it calls on its own) is started on a
loopback port the OS picks, with the secret in FERRY_WEBHOOK_SECRET, the previous one in
FERRY_WEBHOOK_SECRET_OLD, and FERRY_RECEIVER_LOG naming a file where its handlers write what
they received as JSON lines. Then:

- deliveries signed here, with Python's hmac (an implementation independent of the
  receivers'): valid ones are dispatched; a wrong signature, a tampered body, a timestamp more
  than 5 minutes away, malformed headers and a replayed delivery id are not; while a secret
  is rotated, a header with two v1 values is accepted, and so is the receiver's previous
  secret;
- real deliveries: `ferry serve` with a webhook on the receiver (`records: true, batch: 2`)
  runs a sync that creates, updates and deletes records, and the receiver reports the
  run.finished and every record change, in the run's order, in numbered batches; Ferry
  records each delivery answered 200, and an operator's redelivery of one is acknowledged
  without the handlers running again.

The Rails controller runs behind ActionPack's router without a whole Rails app (railties):
server.rb --rails stands in for Rails.cache (an ActiveSupport MemoryStore) and Rails.logger,
and replaces the controller's example handlers (a mailer, a job) with the demo's. Django is
imported by the Debian interpreter, /usr/bin/python3: a python3 earlier on PATH (pyenv) may
not see Debian's dist-packages. `make deps-receivers` (a part of `make test`) installs node,
ruby, ruby-actionpack, python3-django and the Express example's npm packages; a receiver
whose runtime is missing fails its tests with that advice rather than skipping them.
"""

# pgsuite: no (the subject is the receivers' code; Ferry's outbox on PostgreSQL has tests of its own)

import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
from unittest import mock

import ferrytest

RECEIVERS = os.path.join(ferrytest.SOURCE_ROOT, "examples", "receivers")
DEBIAN_PYTHON = "/usr/bin/python3"

SECRET = "whsec_" + secrets.token_hex(16)
OLD_SECRET = "whsec_" + secrets.token_hex(16)  # the receiver's previous secret, still accepted
OTHER_SECRET = "whsec_" + secrets.token_hex(16)  # a secret the receiver does not know

# How long the tests wait for a receiver to start or a delivery to arrive: bounds, not timings.
START_TIMEOUT = 30
DELIVERY_TIMEOUT = 90


def signature(body, t, *keys):
    """The Ferry-Signature value for body (bytes) at t, one v1 per key, made with Python's
    hmac: HMAC-SHA256 of "{t}.{body}", lower-case hex."""
    v1 = [hmac.new(k.encode(), b"%d." % t + body, hashlib.sha256).hexdigest() for k in keys]
    return "t=%d," % t + ",".join("v1=" + v for v in v1)


def run_event(delivery_id, run_id=7, status="succeeded"):
    return {"type": "run.finished", "delivery_id": delivery_id,
            "run": {"id": run_id, "sync": "people", "tenant": None, "status": status,
                    "counts": {"created": 2, "updated": 1, "unchanged": 0, "skipped": 0,
                               "failed": 0, "deleted": 1},
                    "user": "olga@clinic.example", "url": "http://127.0.0.1:8080/#/runs/7"}}


def records_event(delivery_id, run_id=7, seq=1, last=True, records=None):
    if records is None:
        records = [{"step": None, "key": "P1", "outcome": "created", "diff": None},
                   {"step": None, "key": "P2", "outcome": "updated",
                    "diff": {"name": ["Ann", "Anna"]}},
                   {"step": None, "key": "P3", "outcome": "deleted", "diff": None}]
    return {"type": "run.records", "delivery_id": delivery_id, "run_id": run_id, "seq": seq,
            "last": last, "records": records}


def new_delivery_id():
    return "dlv_" + secrets.token_hex(8)


class Receiver:
    """One receiver process: started with a free port, its log read as JSON lines."""

    def __init__(self, test, argv, cwd, log_path):
        self.log_path = log_path
        env = dict(os.environ, PORT="0", FERRY_WEBHOOK_SECRET=SECRET,
                   FERRY_WEBHOOK_SECRET_OLD=OLD_SECRET, FERRY_RECEIVER_LOG=log_path)
        # stderr to a file: a pipe nobody reads could fill and stall the receiver
        self.stderr_path = log_path + ".stderr"
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=err)
        test.addCleanup(self.stop)
        line, seen, _ = ferrytest.read_line_until(
            self.proc.stdout, lambda s: s.startswith("listening on http://127.0.0.1:"),
            time.monotonic() + START_TIMEOUT)
        if line is None:
            self.stop()
            test.fail("%s printed no 'listening on' line within %d s; stdout %r, stderr:\n%s"
                      % (" ".join(argv), START_TIMEOUT, seen, self.stderr()))
        self.url = line.strip()[len("listening on "):].rstrip("/") + "/ferry/webhooks"

    def stderr(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc.stdout.close()

    def post(self, body, headers):
        """POSTs body (bytes) with headers; returns (status, parsed JSON answer or None)."""
        h = {"Content-Type": "application/json"}
        h.update(headers)
        req = urllib.request.Request(self.url, data=body, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                status, data = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, data = e.code, e.read()
        try:
            return status, json.loads(data.decode("utf-8"))
        except ValueError:
            return status, None

    def deliver(self, event, keys=(SECRET,), t=None, body=None, delivery_header=None):
        """Sends event as Ferry would: signed with keys at t (now), with Ferry-Delivery."""
        raw = body if body is not None else json.dumps(event).encode("utf-8")
        t = int(time.time()) if t is None else t
        return self.post(raw, {
            "Ferry-Signature": signature(raw, t, *keys),
            "Ferry-Delivery": (delivery_header if delivery_header is not None
                               else event["delivery_id"])})

    def entries(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip()]


class ReceiverChecks:
    """The scenarios every receiver must pass; a subclass says how to start its receiver."""

    def receiver_argv(self):
        raise NotImplementedError

    receiver_dir = None

    def setUp(self):
        super().setUp()
        self.receiver = Receiver(self, self.receiver_argv(),
                                 os.path.join(RECEIVERS, self.receiver_dir),
                                 self.path("received.jsonl"))

    def assertAccepted(self, answer, duplicate=False):
        status, body = answer
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"ok": True, "duplicate": True} if duplicate else {"ok": True})

    def assertRefused(self, answer, status, reason):
        self.assertEqual(answer, (status, {"error": reason}))

    # -- (a) deliveries signed by the test --

    def test_valid_run_delivery_is_dispatched(self):
        event = run_event(new_delivery_id())
        self.assertAccepted(self.receiver.deliver(event))
        self.assertEqual(self.receiver.entries(), [
            {"event": "run", "delivery_id": event["delivery_id"], "run_id": 7, "sync": "people",
             "status": "succeeded", "user": "olga@clinic.example",
             "url": "http://127.0.0.1:8080/#/runs/7"}])

    def test_records_are_dispatched_one_by_one_in_order(self):
        event = records_event(new_delivery_id(), seq=3, last=False)
        self.assertAccepted(self.receiver.deliver(event))
        got = self.receiver.entries()
        self.assertEqual(got[0], {"event": "batch", "delivery_id": event["delivery_id"],
                                  "run_id": 7, "seq": 3, "last": False, "count": 3})
        self.assertEqual([(e["event"], e["seq"], e["key"], e["outcome"], e["diff"])
                          for e in got[1:]],
                         [("record", 3, "P1", "created", None),
                          ("record", 3, "P2", "updated", {"name": ["Ann", "Anna"]}),
                          ("record", 3, "P3", "deleted", None)])

    def test_wrong_secret_is_refused(self):
        self.assertRefused(self.receiver.deliver(run_event(new_delivery_id()),
                                                 keys=(OTHER_SECRET,)),
                           401, "signature mismatch")
        self.assertEqual(self.receiver.entries(), [])

    def test_tampered_body_is_refused(self):
        event = run_event(new_delivery_id(), status="failed")
        signed = json.dumps(event).encode()
        forged = signed.replace(b'"failed"', b'"succeeded"')
        t = int(time.time())
        answer = self.receiver.post(forged, {"Ferry-Signature": signature(signed, t, SECRET),
                                             "Ferry-Delivery": event["delivery_id"]})
        self.assertRefused(answer, 401, "signature mismatch")
        self.assertEqual(self.receiver.entries(), [])

    def test_timestamp_more_than_five_minutes_away_is_refused(self):
        now = int(time.time())
        for t in (now - 600, now + 600):
            self.assertRefused(self.receiver.deliver(run_event(new_delivery_id()), t=t),
                               401, "timestamp outside the tolerance")
        # within the window: accepted (the margin leaves room for a slow machine)
        self.assertAccepted(self.receiver.deliver(run_event(new_delivery_id()), t=now - 200))
        self.assertEqual(len(self.receiver.entries()), 1)

    def test_replayed_delivery_id_is_not_dispatched_again(self):
        event = run_event(new_delivery_id())
        raw = json.dumps(event).encode()
        headers = {"Ferry-Signature": signature(raw, int(time.time()), SECRET),
                   "Ferry-Delivery": event["delivery_id"]}
        self.assertAccepted(self.receiver.post(raw, headers))
        # the same request again, and Ferry's retry of it (signed anew): acknowledged, so
        # Ferry stops retrying, but the handlers do not run twice
        self.assertAccepted(self.receiver.post(raw, headers), duplicate=True)
        self.assertAccepted(self.receiver.deliver(event), duplicate=True)
        self.assertEqual(len(self.receiver.entries()), 1)
        # another delivery is dispatched as usual
        self.assertAccepted(self.receiver.deliver(run_event(new_delivery_id())))
        self.assertEqual(len(self.receiver.entries()), 2)

    def test_rotated_secret_with_two_signatures_is_accepted(self):
        # Ferry rotating: the old secret's signature first, the new one (the receiver's) next
        self.assertAccepted(self.receiver.deliver(run_event(new_delivery_id()),
                                                  keys=(OTHER_SECRET, SECRET)))
        self.assertAccepted(self.receiver.deliver(run_event(new_delivery_id()),
                                                  keys=(SECRET, OTHER_SECRET)))
        # the receiver rotating: Ferry still signs with the receiver's previous secret
        self.assertAccepted(self.receiver.deliver(run_event(new_delivery_id()),
                                                  keys=(OLD_SECRET,)))
        self.assertEqual(len(self.receiver.entries()), 3)

    def test_malformed_deliveries_are_refused(self):
        event = run_event(new_delivery_id())
        raw = json.dumps(event).encode()
        t = int(time.time())
        good = signature(raw, t, SECRET)
        bad_headers = [
            {"Ferry-Delivery": event["delivery_id"]},
            {"Ferry-Signature": "t=%d" % t, "Ferry-Delivery": event["delivery_id"]},
            {"Ferry-Signature": good.replace("t=", "t=x"), "Ferry-Delivery": event["delivery_id"]},
            {"Ferry-Signature": good.replace(",", ";"), "Ferry-Delivery": event["delivery_id"]},
        ]
        for headers in bad_headers:
            self.assertRefused(self.receiver.post(raw, headers), 400,
                               "missing or malformed Ferry-Signature header")
        self.assertRefused(self.receiver.deliver(event, delivery_header="dlv_other"), 400,
                           "Ferry-Delivery header differs from the body")
        self.assertRefused(self.receiver.deliver(event, body=b"not json"), 400,
                           "body is not JSON")
        self.assertRefused(self.receiver.deliver({"type": "run.finished", "delivery_id": ""},
                                                 delivery_header=""),
                           400, "no delivery_id in the body")
        self.assertEqual(self.receiver.entries(), [])
        # none of these used up the delivery id
        self.assertAccepted(self.receiver.deliver(event))

    def test_failing_handler_answers_500_and_the_retry_runs_it_again(self):
        event = run_event(new_delivery_id())
        # the handlers' storage fails: the log file's place is taken by a directory
        os.mkdir(self.receiver.log_path)
        self.assertRefused(self.receiver.deliver(event), 500, "handler failed")
        os.rmdir(self.receiver.log_path)
        # Ferry's retry of the same delivery is not a duplicate: the handlers run
        self.assertAccepted(self.receiver.deliver(event))
        self.assertEqual([e["delivery_id"] for e in self.receiver.entries()],
                         [event["delivery_id"]])

    def test_unknown_type_is_acknowledged_and_ignored(self):
        self.assertAccepted(self.receiver.deliver({"type": "run.something_new",
                                                   "delivery_id": new_delivery_id()}))
        self.assertEqual(self.receiver.entries(), [])

    # -- (b) real deliveries from ferry serve --

    def test_ferry_serve_delivers_the_run_and_each_record_in_order(self):
        header = ["id", "name", "email"]
        first = [["P1", "Ann", "ann@example.com"], ["P2", "Bob", "bob@example.com"],
                 ["P3", "Cy", "cy@example.com"]]
        second = [["P4", "Dee", "dee@example.com"], ["P1", "Anna", "ann@example.com"],
                  ["P3", "Cy", "cy@example.com"], ["P5", "Eve", "eve@example.com"]]
        url = self.server.route("/people.csv", body=ferrytest.csv_text(header, first))
        sync = ferrytest.sync_config(url, on_missing="delete")
        config = {"database": "sqlite:ferry.db", "allow_private": True,
                  "notify": {"webhook": {"url": self.receiver.url,
                                         "secret_env": "FERRY_WEBHOOK_SECRET",
                                         "on": ["finished"], "records": True, "batch": 2}},
                  "syncs": {"people": sync}}
        self.write_config(json.dumps(config, indent=2) + "\n")

        with mock.patch.dict(os.environ, {"FERRY_WEBHOOK_SECRET": SECRET}), \
                self.serve() as ferry:
            run1 = ferry.run_to_end("people")
            self.server.route("/people.csv", body=ferrytest.csv_text(header, second))
            run2 = ferry.run_to_end("people")
            expected = {}
            for run in (run1, run2):
                changes = ferry.get_json("/api/runs/%d/changes?limit=1000" % run["id"])
                expected[run["id"]] = [
                    (c["step"], c["key"], c["outcome"], c["diff"]) for c in changes["changes"]
                    if c["outcome"] in ("created", "updated", "deleted", "flagged")]
            got = self.wait_for_runs(ferry, [run1["id"], run2["id"]])
            # Ferry recorded each delivery as answered 200
            deliveries = ferry.get_json("/api/runs/%d/deliveries" % run1["id"])["deliveries"]
            self.assertEqual(sorted((d["kind"], d["status"], d["last_status"])
                                    for d in deliveries),
                             [("records", "delivered", 200)] * 2 +
                             [("webhook", "delivered", 200)])
            # an operator's redelivery reaches the receiver, which acknowledges it as a
            # duplicate: Ferry records it delivered, the app's handlers do not run again
            webhook = next(d for d in deliveries if d["kind"] == "webhook")
            r = ferry.post("/api/deliveries/%s/redeliver" % webhook["id"])
            self.assertEqual(r.status, 202, r)
            self.wait_delivery(ferry, run1["id"], webhook["id"], webhook["attempts"] + 1)
            after = self.receiver.entries()
            self.assertEqual(len(after), len(got),
                             "entries after the redelivery:\n%s\nbefore:\n%s"
                             % ("\n".join(json.dumps(e) for e in after),
                                "\n".join(json.dumps(e) for e in got)))

        # the run's changes as the API lists them: source order, then the deletions
        self.assertEqual(expected[run1["id"]], [(None, "P1", "created", None),
                                                (None, "P2", "created", None),
                                                (None, "P3", "created", None)])
        self.assertEqual(expected[run2["id"]], [(None, "P4", "created", None),
                                                (None, "P1", "updated", {"name": ["Ann", "Anna"]}),
                                                (None, "P5", "created", None),
                                                (None, "P2", "deleted", None)])
        for run in (run1, run2):
            self.check_received(got, run, expected[run["id"]])

    def check_received(self, got, run, expected):
        """got (the receiver's entries) holds run's run.finished once, and its record changes
        expected ([(step, key, outcome, diff)]) each once, in order, in numbered batches of
        at most 2 records, the last one marked."""
        entries = [e for e in got if e["run_id"] == run["id"]]
        runs = [e for e in entries if e["event"] == "run"]
        self.assertEqual(len(runs), 1, entries)
        self.assertEqual(runs[0]["status"], "succeeded")
        self.assertEqual(runs[0]["sync"], "people")
        self.assertEqual(runs[0]["user"], run["user"])
        self.assertIn(str(run["id"]), runs[0]["url"] or "", runs[0])
        # numbered batches of at most 2 records, the last one marked
        batches = [e for e in entries if e["event"] == "batch"]
        self.assertEqual([b["seq"] for b in batches],
                         list(range(batches[0]["seq"], batches[0]["seq"] + len(batches))))
        self.assertEqual([b["last"] for b in batches], [False] * (len(batches) - 1) + [True])
        self.assertTrue(all(1 <= b["count"] <= 2 for b in batches), batches)
        # every record once, in the run's order
        records = [(e["step"], e["key"], e["outcome"], e["diff"]) for e in entries
                   if e["event"] == "record"]
        self.assertEqual(records, expected)
        self.assertEqual(sum(b["count"] for b in batches), len(records))

    def wait_delivery(self, ferry, run_id, delivery_id, attempts):
        """Waits until the delivery has made attempts attempts, the last one delivered."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            d = next(d for d in ferry.get_json("/api/runs/%d/deliveries" % run_id)["deliveries"]
                     if d["id"] == delivery_id)
            if d["attempts"] >= attempts and d["status"] == "delivered":
                self.assertEqual(d["last_status"], 200, d)
                return d
            if time.monotonic() > deadline:
                self.fail("delivery %s was not sent again within %d s: %r"
                          % (delivery_id, DELIVERY_TIMEOUT, d))
            time.sleep(0.2)

    def wait_for_runs(self, ferry, run_ids):
        """The receiver's entries once it has each run's run.finished and last batch, and
        Ferry has recorded every delivery of those runs as delivered (in the order of the
        batches' seq, as deliveries may arrive in any order). The receiver writes a batch's
        entry before its records' and answers once all are written, so only Ferry's record
        of the answer says a batch's records are all in the log."""
        deadline = time.monotonic() + DELIVERY_TIMEOUT
        while True:
            entries = self.receiver.entries()
            done = all(any(e["event"] == "run" and e["run_id"] == r for e in entries) and
                       self.batches_complete(entries, r) for r in run_ids)
            done = done and all(
                d["status"] == "delivered" for r in run_ids
                for d in ferry.get_json("/api/runs/%d/deliveries" % r)["deliveries"])
            if done:
                entries = self.receiver.entries()
                return sorted(entries, key=lambda e: (e["run_id"], e["event"] == "run",
                                                      e.get("seq") or 0))
            if time.monotonic() > deadline:
                self.fail("the receiver did not get every delivery within %d s; it got:\n%s"
                          % (DELIVERY_TIMEOUT, "\n".join(json.dumps(e) for e in entries)))
            time.sleep(0.2)

    @staticmethod
    def batches_complete(entries, run_id):
        batches = [e for e in entries if e["event"] == "batch" and e["run_id"] == run_id]
        last = [b for b in batches if b["last"]]
        if not last:
            return False
        first_seq = min(b["seq"] for b in batches)
        return len({b["seq"] for b in batches}) == last[0]["seq"] - first_seq + 1


def need(program, advice="make deps-receivers"):
    """The path of program, or a failure (not a skip: CI installs it) naming the advice."""
    path = shutil.which(program)
    if path is None:
        raise AssertionError("%s is not installed: run `%s`" % (program, advice))
    return path


class ExpressReceiverTest(ReceiverChecks, ferrytest.FerryTestCase):
    """examples/receivers/express: ferry-webhook.js mounted by server.js."""

    receiver_dir = "express"

    def receiver_argv(self):
        node = need("node")
        if not os.path.isdir(os.path.join(RECEIVERS, "express", "node_modules", "express")):
            self.fail("examples/receivers/express has no node_modules: run `make deps-receivers`")
        return [node, "server.js"]


class DjangoReceiverTest(ReceiverChecks, ferrytest.FerryTestCase):
    """examples/receivers/django: the ferry_webhooks app in the demo project, under the
    standard library's WSGI server (serve.py), run by Debian's python3."""

    receiver_dir = "django"

    def receiver_argv(self):
        r = subprocess.run([DEBIAN_PYTHON, "-c", "import django"], capture_output=True)
        if r.returncode != 0:
            self.fail("%s cannot import django: run `make deps-receivers` (python3-django)"
                      % DEBIAN_PYTHON)
        return [DEBIAN_PYTHON, "serve.py"]


class RailsReceiverTest(ReceiverChecks, ferrytest.FerryTestCase):
    """examples/receivers/rails: FerryWebhooksController behind ActionPack's router (Debian's
    ruby-actionpack; Rails.cache and Rails.logger stood in for by server.rb --rails), its
    example handlers replaced by the demo's JSON lines."""

    receiver_dir = "rails"

    def receiver_argv(self):
        ruby = need("ruby")
        r = subprocess.run([ruby, "-e", 'require "action_controller"'], capture_output=True)
        if r.returncode != 0:
            self.fail("ruby cannot load ActionPack: run `make deps-receivers` (ruby-actionpack)")
        return [ruby, "server.rb", "--rails"]


class PlainRubyReceiverTest(ReceiverChecks, ferrytest.FerryTestCase):
    """examples/receivers/rails: the plain-Ruby FerryWebhook alone, behind server.rb, as an
    app without Rails (Sinatra, Hanami, Roda) would use it."""

    receiver_dir = "rails"

    def receiver_argv(self):
        return [need("ruby"), "server.rb"]


class RubyWarningsTest(unittest.TestCase):
    """The Ruby files compile without warnings (ruby -wc)."""

    def test_ruby_files_have_no_warnings(self):
        ruby = need("ruby")
        for name in ("ferry_webhooks_controller.rb", "ferry_webhook.rb", "server.rb"):
            r = subprocess.run([ruby, "-wc", name], cwd=os.path.join(RECEIVERS, "rails"),
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((r.returncode, r.stdout.strip(), r.stderr), (0, "Syntax OK", ""),
                             name)


class ReceiverFilesTest(unittest.TestCase):
    """Every file of examples/receivers is run or checked by this test (a new one must be
    added here, with what runs it)."""

    EXERCISED = {
        "README.md": "read by people; its commands are the ones above",
        "express/package.json": "npm ci (make deps-receivers)",
        "express/package-lock.json": "npm ci (make deps-receivers)",
        "express/ferry-webhook.js": "ExpressReceiverTest",
        "express/server.js": "ExpressReceiverTest",
        "django/serve.py": "DjangoReceiverTest",
        "django/demo/__init__.py": "DjangoReceiverTest",
        "django/demo/settings.py": "DjangoReceiverTest",
        "django/demo/urls.py": "DjangoReceiverTest",
        "django/demo/handlers.py": "DjangoReceiverTest",
        "django/ferry_webhooks/__init__.py": "DjangoReceiverTest",
        "django/ferry_webhooks/signals.py": "DjangoReceiverTest",
        "django/ferry_webhooks/urls.py": "DjangoReceiverTest",
        "django/ferry_webhooks/views.py": "DjangoReceiverTest",
        "rails/README.md": "read by people",
        "rails/ferry_webhook.rb": "RailsReceiverTest, PlainRubyReceiverTest",
        "rails/server.rb": "RailsReceiverTest, PlainRubyReceiverTest",
        "rails/ferry_webhooks_controller.rb": "RailsReceiverTest",
    }

    def test_every_file_is_exercised(self):
        found = set()
        for root, dirs, files in os.walk(RECEIVERS):
            dirs[:] = [d for d in dirs if d not in ("node_modules", "__pycache__")]
            for name in files:
                found.add(os.path.relpath(os.path.join(root, name), RECEIVERS))
        self.assertEqual(sorted(found), sorted(self.EXERCISED))


if __name__ == "__main__":
    unittest.main(verbosity=2)
