#!/usr/bin/python3
"""Sign-in from the host application (docs/embedding.md, "Embed tokens"): `embed: {secret_env,
max_age}` lets a host's backend mint a short-lived HS256 JSON Web Token for the person using
its page, sent as Authorization: Bearer. The tokens are minted here the way a host does it,
with Python's own hmac and base64 (an implementation independent of Ferry's):

- a valid operator token starts a run recorded as "EMAIL via embed", and GET /api/me says so;
- an expired token is refused with 401 saying it expired; a tampered one, an unsigned one
  (alg none), one signed with HS512, one with another secret or one living past max_age are
  refused with 401; none of their answers echoes the secret;
- role viewer cannot start runs; role admin is taken as operator, so admin routes stay closed;
- the syncs and tenants claims limit what the token may start, read, cancel and list (the sync
  list, the run list, a run, its changes, the event stream), each refusal a 403 that is
  audited under the embed user's name;
- an event stream opened with an embed token ends once the token has expired;
- without embed in the config a JWT is refused with 401 saying so; with embed.secret_env
  unset, ferry serve refuses to start.
"""

import base64
import hashlib
import hmac
import json
import os
import time
import unittest

import ferrytest
from ferrytest import SseStream, auth_headers, csv_text, people_rows

SECRET = "embed-secret-for-tests-0123456789abcdef"
SECRET_ENV = "FERRY_TEST_EMBED_SECRET"
HEADER = ["id", "name", "email"]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint(claims, secret=SECRET, header=None, digest=hashlib.sha256):
    """An HS256 JWT of claims, as a host application's backend makes one."""
    head = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    signing_input = ("%s.%s" % (head, body)).encode()
    sig = hmac.new(secret.encode(), signing_input, digest).digest()
    return "%s.%s.%s" % (head, body, b64url(sig))


def claims(role="operator", ttl=300, **extra):
    now = int(time.time())
    c = {"sub": "u-17", "name": "Olga", "email": "olga@clinic.example", "role": role,
         "iat": now, "exp": now + ttl}
    c.update(extra)
    return c


class EmbedTokens(ferrytest.FerryTestCase):

    def setUp(self):
        super().setUp()
        os.environ[SECRET_ENV] = SECRET
        self.addCleanup(os.environ.pop, SECRET_ENV, None)
        self.write_file("people.csv", csv_text(HEADER, people_rows(3)))
        self.write_file("org-1.csv", csv_text(HEADER, people_rows(2)))
        self.write_file("org-2.csv", csv_text(HEADER, people_rows(2)))
        self.write_config(self.config(embed={"secret_env": SECRET_ENV, "max_age": "10m"}))

    def config(self, **top):
        fields = {"id": {}, "name": {}, "email": {"type": "email"}}
        cfg = {"database": "sqlite:ferry.db", "allow_private": True}
        cfg.update(top)
        cfg["syncs"] = {
            "people": {"source": {"url": "people.csv"},
                       "target": {"table": "people", "key": ["id"]}, "fields": fields},
            "patients": {"source": {"url": "{org}.csv"},
                         "target": {"table": "patients", "key": ["id"]}, "fields": fields,
                         "tenant": {"variable": "org", "column": "org_id"}},
        }
        return json.dumps(cfg, indent=2) + "\n"

    def as_token(self, srv, method, path, token, body=None):
        return srv.request(method, path, body=body, headers=auth_headers(token))

    def assert_refused(self, r, status, words):
        self.assertEqual(r.status, status, r)
        self.assertIn(words, r.json["error"]["message"])
        self.assertNotIn(SECRET, r.body.decode("utf-8", "replace"))

    def test_valid_token_starts_a_run_recorded_as_its_person(self):
        with self.serve() as srv:
            token = mint(claims())
            me = self.as_token(srv, "GET", "/api/me", token)
            self.assertEqual(me.status, 200, me)
            self.assertEqual(me.json["auth"], "embed")
            self.assertEqual(me.json["user"], {"name": "olga@clinic.example via embed",
                                               "role": "operator"})
            r = self.as_token(srv, "POST", "/api/syncs/people/runs", token)
            self.assertEqual(r.status, 202, r)
            run = srv.wait_run(r.json["id"])
            self.assertEqual(run["status"], "succeeded", run)
            self.assertEqual(run["user"], "olga@clinic.example via embed")
            self.assertIsNone(run["token"])
            # Without an email, the token's subject names the person.
            r = self.as_token(srv, "GET", "/api/me", mint(claims(email=None)))
            self.assertEqual(r.json["user"]["name"], "u-17 via embed")
            self.assertNotIn(SECRET, srv.stderr_text())

    def test_expired_token_is_refused_saying_it_expired(self):
        with self.serve() as srv:
            old = claims(ttl=60)
            old["iat"] -= 3600
            old["exp"] -= 3600
            r = self.as_token(srv, "POST", "/api/syncs/people/runs", mint(old))
            self.assert_refused(r, 401, "expired")
            self.assertEqual(srv.get_json("/api/runs")["runs"], [])

    def test_tampered_unsigned_and_foreign_tokens_are_refused(self):
        with self.serve() as srv:
            viewer = mint(claims(role="viewer"))
            head, _, sig = viewer.split(".")
            forged = "%s.%s.%s" % (head, b64url(json.dumps(claims()).encode()), sig)
            self.assert_refused(self.as_token(srv, "POST", "/api/syncs/people/runs", forged),
                                401, "signature does not match")
            none = "%s.%s." % (b64url(b'{"alg":"none","typ":"JWT"}'),
                               b64url(json.dumps(claims()).encode()))
            self.assert_refused(self.as_token(srv, "GET", "/api/syncs", none), 401,
                                "must be signed with HS256")
            hs512 = mint(claims(), header={"alg": "HS512"}, digest=hashlib.sha512)
            self.assert_refused(self.as_token(srv, "GET", "/api/syncs", hs512), 401,
                                "must be signed with HS256")
            other = mint(claims(), secret="another-secret-another-secret-0000")
            self.assert_refused(self.as_token(srv, "GET", "/api/syncs", other), 401,
                                "signature does not match")
            long_lived = mint(claims(ttl=86400))
            self.assert_refused(self.as_token(srv, "GET", "/api/syncs", long_lived), 401,
                                "max_age")
            self.assertEqual(srv.get_json("/api/runs")["runs"], [])
            self.assertNotIn(SECRET, srv.stderr_text())

    def test_roles_viewer_reads_and_admin_is_only_operator(self):
        with self.serve() as srv:
            viewer = mint(claims(role="viewer"))
            self.assertEqual(self.as_token(srv, "GET", "/api/syncs", viewer).status, 200)
            self.assert_refused(self.as_token(srv, "POST", "/api/syncs/people/runs", viewer),
                                403, "starting runs needs the operator role")
            admin = mint(claims(role="admin"))
            me = self.as_token(srv, "GET", "/api/me", admin)
            self.assertEqual(me.json["user"]["role"], "operator")
            self.assert_refused(self.as_token(srv, "GET", "/api/users", admin), 403,
                                "managing users needs the admin role")
            self.assert_refused(self.as_token(srv, "POST", "/api/tokens", admin,
                                              body={"user": "x", "name": "y"}),
                                403, "managing tokens needs the admin role")

    def test_syncs_claim_limits_what_it_touches(self):
        with self.serve() as srv:
            r = srv.post("/api/syncs/patients/runs", body={"tenant": "org-2"})
            self.assertEqual(r.status, 202, r)
            other = srv.wait_run(r.json["id"])
            token = mint(claims(syncs=["people"]))
            names = [s["name"] for s in self.as_token(srv, "GET", "/api/syncs", token)
                     .json["syncs"]]
            self.assertEqual(names, ["people"])
            self.assert_refused(
                self.as_token(srv, "POST", "/api/syncs/patients/runs", token,
                              body={"tenant": "org-1"}), 403, "does not allow sync patients")
            self.assert_refused(self.as_token(srv, "GET", "/api/runs/%d" % other["id"], token),
                                403, "does not allow sync patients")
            self.assert_refused(
                self.as_token(srv, "GET", "/api/runs/%d/changes" % other["id"], token), 403,
                "does not allow")
            self.assert_refused(
                self.as_token(srv, "POST", "/api/runs/%d/cancel" % other["id"], token), 403,
                "does not allow")
            self.assert_refused(self.as_token(srv, "GET", "/api/events?sync=patients", token),
                                403, "does not allow")
            r = self.as_token(srv, "POST", "/api/syncs/people/runs", token)
            self.assertEqual(r.status, 202, r)
            mine = srv.wait_run(r.json["id"])
            listed = self.as_token(srv, "GET", "/api/runs", token).json["runs"]
            self.assertEqual([x["id"] for x in listed], [mine["id"]])
            self.assertEqual(len(srv.get_json("/api/runs")["runs"]), 2)  # the admin sees both
            audit = srv.get_json("/api/audit?action=refused")["entries"]
            self.assertIn("olga@clinic.example via embed",
                          [e["actor"] for e in audit if e["action"] == "refused"])

    def test_tenants_claim_limits_runs_and_events(self):
        with self.serve() as srv:
            token = mint(claims(syncs=["patients"], tenants=["org-1"]))
            stream = SseStream(srv.port, "/api/events", token=token)
            srv.streams.append(stream)
            self.assertEqual(stream.status, 200)
            self.assert_refused(
                self.as_token(srv, "POST", "/api/syncs/patients/runs", token,
                              body={"tenant": "org-2"}), 403, "tenant org-2")
            r = srv.post("/api/syncs/patients/runs", body={"tenant": "org-2"})  # the admin
            theirs = srv.wait_run(r.json["id"])
            r = self.as_token(srv, "POST", "/api/syncs/patients/runs", token,
                              body={"tenant": "org-1"})
            self.assertEqual(r.status, 202, r)
            mine = srv.wait_run(r.json["id"])
            self.assertEqual(mine["user"], "olga@clinic.example via embed")
            seen = stream.events_until(
                lambda e: e["event"] == "run.finished" and e["data"]["id"] == mine["id"])
            self.assertEqual(seen[-1]["data"]["id"], mine["id"], seen)
            self.assertNotIn(theirs["id"], [e["data"]["id"] for e in seen])
            self.assertEqual({e["data"]["tenant"] for e in seen}, {"org-1"})
            listed = self.as_token(srv, "GET", "/api/runs", token).json["runs"]
            self.assertEqual([x["id"] for x in listed], [mine["id"]])
            self.assert_refused(self.as_token(srv, "GET", "/api/runs/%d" % theirs["id"], token),
                                403, "tenant org-2")
            syncs = self.as_token(srv, "GET", "/api/syncs", token).json["syncs"]
            self.assertEqual(syncs[0]["latest_run"]["id"], mine["id"])

    def test_event_stream_ends_when_its_token_expires(self):
        # A token 25 s past its exp is still inside the 30 s leeway: the stream opens. Once
        # the leeway has passed too, the next credential check (a heartbeat, or here a user
        # changed on this server) ends it.
        self.make_user("someone", "viewer")
        with self.serve() as srv:
            late = claims(ttl=60)
            late["iat"] -= 85
            late["exp"] -= 85
            stream = SseStream(srv.port, "/api/events", token=mint(late))
            srv.streams.append(stream)
            self.assertEqual(stream.status, 200)
            deadline = time.monotonic() + 20
            while time.time() < late["exp"] + 31 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertEqual(srv.request("PATCH", "/api/users/someone",
                                         body={"disabled": True}).status, 200)
            self.assertTrue(stream.wait_ended(timeout=10), "the stream outlived its token")
            self.assert_refused(self.as_token(srv, "GET", "/api/me", mint(late)), 401,
                                "expired")

    def test_without_embed_config_a_jwt_is_refused(self):
        self.write_config(self.config())
        with self.serve() as srv:
            self.assert_refused(self.as_token(srv, "GET", "/api/syncs", mint(claims())), 401,
                                "embed tokens are not enabled")

    def test_serve_refuses_to_start_without_the_secret(self):
        os.environ.pop(SECRET_ENV, None)
        code, out, err = self.run_ferry("serve", "--listen", "127.0.0.1:0")
        self.assertNotEqual(code, 0)
        self.assertIn("embed.secret_env: the environment variable %s is not set" % SECRET_ENV,
                      err)
        os.environ[SECRET_ENV] = "short"
        code, out, err = self.run_ferry("serve", "--listen", "127.0.0.1:0")
        self.assertNotEqual(code, 0)
        self.assertIn("shorter than 32 bytes", err)
        self.assertNotIn("short\n", err)


if __name__ == "__main__":
    unittest.main()
