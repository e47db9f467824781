#!/usr/bin/python3
"""test_examples_rest.py - the REST examples (examples/jira.yaml, examples/freshservice.yaml)
run as shipped against loopback fakes that answer as the real APIs do.

Each test copies the example, points its https://{...}.<vendor> host at a fake of our own on
127.0.0.1 (and allows private addresses), runs `ferry sync NAME` and checks the rows, the
requests the fake received (query values as sent, credentials) and the run's outcome.
"""

import base64
import os
import re
import threading

import ferrytest
from fake_json_api import Fake

EMAIL, TOKEN = "ana@acme.example", "jira-token-1"
API_KEY = "fs-key-1"


def issue(i):
    return {"id": str(10000 + i), "key": "OPS-%d" % i,
            "fields": {"summary": "Issue %d" % i, "status": {"name": "Open"},
                       "assignee": {"displayName": "Ana"} if i % 2 else None,
                       "labels": ["a", "b"], "updated": "2026-12-01T10:00:00.000+0000"}}


def ticket(i):
    return {"id": i, "subject": "Ticket %d" % i, "status": 2, "priority": 1,
            "requester_id": 900 + i, "type": "Incident",
            "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-12-01T09:00:00Z"}


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class ExampleTestCase(ferrytest.FerryTestCase):
    def use_example(self, name, host_pattern, fake):
        """Copies examples/name with host_pattern (a regex of its https origin) pointed at
        fake, private addresses allowed."""
        with open(os.path.join(ferrytest.SOURCE_ROOT, "examples", name)) as f:
            text = f.read()
        text, n = re.subn(host_pattern, fake.base_url, text)
        self.assertGreater(n, 0, "no %s URL in examples/%s" % (host_pattern, name))
        text = text.replace("database: sqlite:ferry.db\n",
                            "database: sqlite:ferry.db\nallow_private: true\n", 1)
        self.write_config(text)

    def start(self, answer):
        fake = Fake(answer)
        self.addCleanup(fake.close)
        return fake


class JiraExampleTest(ExampleTestCase):
    """examples/jira.yaml: /rest/api/3/search/jql pages with nextPageToken (absent on the last
    page, isLast true), basic auth with the account's e-mail and an API token."""

    N = 230

    def answer(self, handler, route, query):
        if handler.headers.get("Authorization") != basic(EMAIL, TOKEN):
            return 401, [], {"errorMessages": ["You are not authenticated."]}
        size = int(query.get("maxResults", "50"))
        if route == "/rest/api/3/search/jql":
            start = int(query["nextPageToken"][len("tok-"):]) if "nextPageToken" in query else 0
            body = {"issues": [issue(i) for i in range(start + 1, min(start + size, self.N) + 1)],
                    "isLast": start + size >= self.N}
            if start + size < self.N:
                body["nextPageToken"] = "tok-%d" % (start + size)
            return 200, [], body
        if route == "/rest/api/3/search":
            start = int(query.get("startAt", "0"))
            return 200, [], {"startAt": start, "maxResults": size, "total": self.N,
                             "issues": [issue(i) for i in
                                        range(start + 1, min(start + size, self.N) + 1)]}
        return 404, [], {"errorMessages": ["no such route"]}

    def setUp(self):
        super().setUp()
        self.fake = self.start(self.answer)
        self.use_example("jira.yaml", r"https://\{site\}\.atlassian\.net", self.fake)
        self.env = {"JIRA_EMAIL": EMAIL, "JIRA_TOKEN": TOKEN}

    def sync_example(self, name):
        code, out, err = self.run_ferry("sync", name, env=self.env)
        self.assertEqual(code, 0, "ferry sync %s exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (name, code, out, err))
        self.assertEqual(self.last_run()["status"], "succeeded")
        return out

    def test_search_jql_pages_by_next_page_token(self):
        self.sync_example("jira_issues")
        rows = self.query("SELECT key, summary, status, assignee, labels FROM jira_issues"
                          " ORDER BY CAST(substr(key, 5) AS INTEGER)")
        self.assertEqual(len(rows), self.N)
        self.assertEqual(rows[0], ("OPS-1", "Issue 1", "Open", "Ana", "a, b"))
        self.assertEqual(rows[1][3], None)
        reqs = self.fake.requests
        self.assertEqual([r["query"].get("nextPageToken") for r in reqs],
                         [None, "tok-100", "tok-200"])
        for r in reqs:
            self.assertEqual(r["query"]["jql"], "project = OPS ORDER BY key")
            self.assertIn("jql=project%20%3D%20OPS%20ORDER%20BY%20key", r["path"])
            self.assertEqual(r["query"]["fields"], "summary,status,assignee,labels,updated")

    def test_classic_search_pages_by_offset(self):
        self.sync_example("jira_issues_offset")
        self.assertEqual(self.query("SELECT count(*) FROM jira_issues_offset"), [(self.N,)])
        self.assertEqual([r["query"].get("startAt") for r in self.fake.requests],
                         ["0", "100", "200"])

    def test_wrong_token_fails_as_credentials_rejected(self):
        self.env["JIRA_TOKEN"] = "wrong"
        code, out, _ = self.run_ferry("sync", "jira_issues", env=self.env)
        self.assertEqual(code, 1, out)
        self.assertIn("credentials rejected", self.last_run()["error"])
        self.assertNotIn("wrong", out)


class FreshserviceExampleTest(ExampleTestCase):
    """examples/freshservice.yaml: /api/v2/tickets with the API key as the basic-auth user
    (the password ignored, as Freshservice does; 401 without the key), per_page and
    updated_since in the query (the epoch's start on the first, full run; the newest
    updated_at minus 5 minutes on the next, incremental one), a Link header with rel="next" on
    all but the last page, and a 429 with Retry-After once, on page 2."""

    N = 250

    def answer(self, handler, route, query):
        auth = handler.headers.get("Authorization") or ""
        user = ""
        if auth.startswith("Basic "):
            user = base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        if user != API_KEY:
            return 401, [], {"code": "access_denied", "message": "You are not authorized"}
        if route != "/api/v2/tickets":
            return 404, [], {"message": "not found"}
        page, size = int(query.get("page", "1")), int(query.get("per_page", "30"))
        with self.lock:
            if page == 2 and not self.limited:
                self.limited = True
                return 429, [("Retry-After", "1")], {"message": "rate limit exceeded"}
        start = (page - 1) * size
        headers = []
        if start + size < self.N:
            headers.append(("Link", '<%s/api/v2/tickets?per_page=%d&page=%d&updated_since=%s>;'
                            ' rel="next"' % (self.fake.base_url, size, page + 1,
                                             query.get("updated_since", ""))))
        return 200, headers, {"tickets": [ticket(i) for i in
                                          range(start + 1, min(start + size, self.N) + 1)]}

    def setUp(self):
        super().setUp()
        self.lock = threading.Lock()
        self.limited = False
        self.fake = self.start(self.answer)
        self.use_example("freshservice.yaml", r"https://\{domain\}\.freshservice\.com",
                         self.fake)

    def test_tickets_page_by_link_header_through_a_429(self):
        code, out, err = self.run_ferry("sync", "tickets", env={"FRESHSERVICE_API_KEY": API_KEY})
        self.assertEqual(code, 0, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertEqual(self.last_run()["status"], "succeeded")
        rows = self.query("SELECT id, subject, status, priority, requester_id, type"
                          " FROM tickets ORDER BY id")
        self.assertEqual(len(rows), self.N)
        self.assertEqual(rows[0], (1, "Ticket 1", 2, 1, 901, "Incident"))
        reqs = self.fake.requests
        self.assertEqual([r["query"].get("page") for r in reqs], [None, "2", "2", "3"])
        self.assertEqual([r["query"].get("per_page") for r in reqs], ["100"] * 4)
        self.assertEqual({r["query"]["updated_since"] for r in reqs}, {"1970-01-01T00:00:00Z"})
        self.assertIn("updated_since=1970-01-01T00%3A00%3A00Z", reqs[0]["path"])
        self.assertTrue(self.limited, "the fake never answered 429")
        self.assertNotIn(API_KEY, out + err)
        self.assertEqual(self.last_run()["run_mode"], "full")

        # The next run is incremental: every page asks for what changed since then.
        del reqs[:]
        code, out, err = self.run_ferry("sync", "tickets", env={"FRESHSERVICE_API_KEY": API_KEY})
        self.assertEqual(code, 0, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertEqual(self.last_run()["run_mode"], "incremental")
        self.assertEqual(len(reqs), 3)
        self.assertEqual({r["query"]["updated_since"] for r in reqs}, {"2026-12-01T08:55:00Z"})

    def test_without_the_key_fails_as_credentials_rejected(self):
        code, out, _ = self.run_ferry("sync", "tickets", env={"FRESHSERVICE_API_KEY": "nope"})
        self.assertEqual(code, 1, out)
        self.assertIn("credentials rejected", self.last_run()["error"])
        self.assertEqual(len(self.fake.requests), 1, "a 401 was retried")
        self.assertFalse(self.table_exists("tickets"))


if __name__ == "__main__":
    ferrytest.main()
