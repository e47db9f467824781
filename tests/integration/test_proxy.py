#!/usr/bin/python3
"""Ferry behind the host application's reverse proxy (docs/security.md, "Behind a proxy";
docs/config.md, "auth" and "base_path"):

- `auth: {trusted_header, trusted_proxies}`: a request from a listed proxy address is signed
  in as the Ferry user the header names (their role applies; a change needs X-CSRF-Token);
  an unknown or disabled user is refused with 401; from an address not listed the header is
  ignored, so it signs nobody in. The tests connect from 127.0.0.1, so one server lists
  127.0.0.1/32 and another lists only 10.0.0.5/32.
- `base_path: /ferry`: the API, the event stream, the page and /ferry-sync.js answer under
  the prefix only (404 outside it, /healthz excepted); /ferry itself redirects to /ferry/;
  the session cookie's Path is /ferry/.
"""

import json
import time
import unittest

import ferrytest
from ferrytest import SseStream, csv_text, people_rows

HEADER = ["id", "name", "email"]


def config(**top):
    cfg = {"database": "sqlite:ferry.db", "allow_private": True}
    cfg.update(top)
    cfg["syncs"] = {"people": {"source": {"url": "people.csv"},
                               "target": {"table": "people", "key": ["id"]},
                               "fields": {"id": {}, "name": {}, "email": {"type": "email"}}}}
    return json.dumps(cfg, indent=2) + "\n"


class TrustedHeader(ferrytest.FerryTestCase):

    def setUp(self):
        super().setUp()
        self.write_file("people.csv", csv_text(HEADER, people_rows(3)))

    def test_listed_proxy_signs_in_the_user_it_names(self):
        self.write_config(config(auth={"trusted_header": "X-Forwarded-User",
                                       "trusted_proxies": ["127.0.0.1/32"]}))
        self.make_user("alice", "operator")
        self.make_user("victor", "viewer")
        with self.serve() as srv:
            alice = {"X-Forwarded-User": "alice"}
            me = srv.get("/api/me", headers=alice, auth=False)
            self.assertEqual(me.status, 200, me)
            self.assertEqual(me.json["auth"], "header")
            self.assertEqual(me.json["user"], {"name": "alice", "role": "operator"})
            # A change must carry X-CSRF-Token: a page of another site cannot add it.
            r = srv.post("/api/syncs/people/runs", headers=alice, auth=False)
            self.assertEqual(r.status, 403, r)
            self.assertEqual(r.json["error"]["code"], "csrf")
            r = srv.post("/api/syncs/people/runs", auth=False,
                         headers=dict(alice, **{"X-CSRF-Token": me.json["csrf_token"]}))
            self.assertEqual(r.status, 202, r)
            run = srv.wait_run(r.json["id"])
            self.assertEqual(run["user"], "alice")
            # The user's own role applies.
            r = srv.post("/api/syncs/people/runs", auth=False,
                         headers={"X-Forwarded-User": "victor", "X-CSRF-Token": "x"})
            self.assertEqual(r.status, 403, r)
            self.assertIn("needs the operator role", r.json["error"]["message"])
            stream = SseStream(srv.port, "/api/events", headers=alice)
            srv.streams.append(stream)
            self.assertEqual(stream.status, 200)
            # Unknown and disabled users are refused.
            r = srv.get("/api/syncs", headers={"X-Forwarded-User": "mallory"}, auth=False)
            self.assertEqual(r.status, 401, r)
            self.assertIn("not a Ferry user", r.json["error"]["message"])
            self.assertEqual(srv.request("PATCH", "/api/users/victor",
                                         body={"disabled": True}).status, 200)
            r = srv.get("/api/syncs", headers={"X-Forwarded-User": "victor"}, auth=False)
            self.assertEqual(r.status, 401, r)
            self.assertIn("disabled", r.json["error"]["message"])
            # Without the header, the other ways still work.
            self.assertEqual(srv.get("/api/syncs").status, 200)
            self.assertEqual(srv.get("/api/syncs", auth=False).status, 401)

    def test_header_from_an_unlisted_address_is_ignored(self):
        self.write_config(config(auth={"trusted_header": "X-Forwarded-User",
                                       "trusted_proxies": ["10.0.0.5/32"]}))
        self.make_user("alice", "admin")
        with self.serve() as srv:
            r = srv.get("/api/me", headers={"X-Forwarded-User": "alice"}, auth=False)
            self.assertEqual(r.status, 401, r)
            self.assertIn("log in first", r.json["error"]["message"])
            r = srv.post("/api/syncs/people/runs", auth=False,
                         headers={"X-Forwarded-User": "alice", "X-CSRF-Token": "x"})
            self.assertEqual(r.status, 401, r)
            # A token still signs in its own user, whatever the header says.
            me = srv.get("/api/me", headers={"X-Forwarded-User": "alice"})
            self.assertEqual(me.json["user"]["name"], ferrytest.ADMIN_USER)


class BasePath(ferrytest.FerryTestCase):

    def setUp(self):
        super().setUp()
        self.write_file("people.csv", csv_text(HEADER, people_rows(3)))
        self.write_config(config(base_path="/ferry"))

    def test_everything_is_under_the_prefix(self):
        with self.serve() as srv:
            syncs = srv.get_json("/ferry/api/syncs")
            self.assertEqual([s["name"] for s in syncs["syncs"]], ["people"])
            r = srv.post("/ferry/api/syncs/people/runs")
            self.assertEqual(r.status, 202, r)
            run = None
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                run = srv.get_json("/ferry/api/runs/%d" % r.json["id"])
                if run["status"] in ferrytest.TERMINAL_STATUSES:
                    break
                time.sleep(0.03)
            self.assertEqual(run["status"], "succeeded", run)
            for path in ("/api/syncs", "/api/runs", "/", "/ferry-sync.js", "/app/main.js",
                         "/ferryx/api/syncs", "/ferry-other"):
                r = srv.get(path)
                self.assertEqual(r.status, 404, "%s: %r" % (path, r))
                self.assertIn("served under /ferry/", r.json["error"]["message"])
            page = srv.get("/ferry/", auth=False)
            self.assertEqual(page.status, 200)
            self.assertIn(b'src="app/main.js"', page.body)
            self.assertEqual(srv.get("/ferry/app/main.js", auth=False).status, 200)
            self.assertEqual(srv.get("/ferry/ferry-sync.js", auth=False).status, 200)
            r = srv.get("/ferry", auth=False)
            self.assertEqual(r.status, 308, r)
            self.assertEqual(r.header("Location"), "/ferry/")
            self.assertEqual(srv.get("/healthz", auth=False).status, 200)
            self.assertEqual(srv.get("/ferry/healthz", auth=False).status, 200)
            stream = SseStream(srv.port, "/ferry/api/events", token=srv.token)
            srv.streams.append(stream)
            self.assertEqual(stream.status, 200)

    def test_session_cookie_stays_under_the_prefix(self):
        password = self.make_user("alice", "viewer")
        with self.serve() as srv:
            r = srv.post("/ferry/api/login", body={"user": "alice", "password": password},
                         auth=False)
            self.assertEqual(r.status, 200, r)
            cookie = r.header("Set-Cookie")
            self.assertIn("Path=/ferry/;", cookie)


if __name__ == "__main__":
    unittest.main()
