#!/usr/bin/python3
"""`ferry serve` authentication: who may call which route, logins and their throttle, sessions
and their end, CSRF, API tokens, event streams that close with their credential, the audit
trail, metrics_token and the request limits (docs/api.md, "Users and sessions", "Routes",
"Request limits"; docs/config.md, "Users and limits").

Browsers are played by Session: it logs in with POST /api/login, keeps the ferry_session
cookie and the CSRF token, and sends the cookie itself (with X-CSRF-Token on changes) and no
Authorization header. Programs are played by Bearer (Authorization: Bearer TOKEN). Secrets
never reach a failure message: mask() hides tokens and session ids.

Sessions are aged by editing ferry_sessions (last_seen_at, created_at: ISO-8601 UTC text with
milliseconds, as src/store/sqlite_conn.c writes them) in the test's database.
"""

import csv
import hashlib
import io
import json
import os
import re
import secrets
import socket
import time
import unittest

import ferrytest
from ferrytest import ADMIN_USER, SseStream, auth_headers, csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
COOKIE = "ferry_session"
SESSION_RE = re.compile(r"fs_[A-Za-z0-9_-]+")
CSRF_RE = re.compile(r"\b[0-9a-f]{64}\b")
LONG_PASSWORD = "a long enough password"


def mask(text):
    """text with API tokens, session ids and CSRF tokens hidden, for failure messages."""
    return CSRF_RE.sub("<csrf>", SESSION_RE.sub("fs_***", ferrytest.mask_tokens(str(text))))


def iso_ago(seconds):
    """The time `seconds` ago as the store writes times: 2026-11-23T07:31:58.659Z."""
    t = time.time() - seconds
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()


def parse_set_cookie(value):
    """(name, value, attributes) of a Set-Cookie header; attribute names lower case, flags
    (HttpOnly, Secure) map to True."""
    parts = [p.strip() for p in (value or "").split(";")]
    name, _, val = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        attrs[k.strip().lower()] = v.strip() if eq else True
    return name, val, attrs


def status_code(r):
    """'STATUS code' of an answer, for messages: '403 forbidden', '200'."""
    code = None
    if isinstance(r.json, dict) and isinstance(r.json.get("error"), dict):
        code = r.json["error"].get("code")
    return "%d %s" % (r.status, code) if code else "%d" % r.status


# ---- clients ----

class Client:
    """Requests to a FerryServer with this client's credentials only (never the server's
    admin token)."""

    kind = "none"

    def __init__(self, srv):
        self.srv = srv

    def headers(self, method, csrf=True):
        return {}

    def request(self, method, path, body=None, csrf=True, headers=None, timeout=10):
        h = self.headers(method, csrf)
        h.update(headers or {})
        return self.srv.request(method, path, body, headers=h, timeout=timeout, auth=False)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def events(self, query=""):
        """An event stream opened with these credentials (closed when the server stops)."""
        s = SseStream(self.srv.port, "/api/events" + query, headers=self.headers("GET"))
        self.srv.streams.append(s)
        return s


class Bearer(Client):
    kind = "token"

    def __init__(self, srv, token):
        super().__init__(srv)
        self.token = token

    def headers(self, method, csrf=True):
        return auth_headers(self.token)


class Session(Client):
    """A browser after a login: the cookie, and the CSRF token sent on changes (csrf=False
    sends none, a string sends that one)."""

    kind = "session"

    def __init__(self, srv, user, cookie, csrf_token):
        super().__init__(srv)
        self.user = user
        self.cookie = cookie
        self.csrf = csrf_token

    @classmethod
    def from_answer(cls, srv, user, r):
        name, value, _ = parse_set_cookie(r.header("Set-Cookie"))
        assert name == COOKIE, mask(r.header("Set-Cookie"))
        return cls(srv, user, value, r.json["csrf_token"])

    def headers(self, method, csrf=True):
        h = {"Cookie": "%s=%s" % (COOKIE, self.cookie)}
        if isinstance(csrf, str):
            h["X-CSRF-Token"] = csrf
        elif csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        return h


class NoCsrfSession(Session):
    """A session's cookie sent without X-CSRF-Token, as a third-party page would make a
    browser send it."""

    def headers(self, method, csrf=True):
        return super().headers(method, csrf=False)


def raw_exchange(port, data, timeout=5):
    """Sends data on a new connection and reads what the server answers until it closes or
    the timeout passes. Returns (answer bytes, closed by the server, seconds taken)."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got, closed = b"", False
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before taking it all
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
    finally:
        s.close()
    return got, closed, time.monotonic() - t0




# ---- the test case base ----

class AuthTestCase(ferrytest.FerryTestCase):
    def write_auth_config(self, syncs=None, **top):
        """ferry.yaml with syncs (default: t, reading people.csv of 3 rows) and top-level keys
        (session_idle="1m", metrics_token=..., ...)."""
        if syncs is None:
            self.write_csv("people.csv", HEADER, people_rows(3))
            syncs = {"t": sync_config("people.csv")}
        cfg = {"database": "sqlite:ferry.db", "allow_private": True}  # the loopback sources
        cfg.update(top)
        cfg["syncs"] = syncs
        self.write_config(json.dumps(cfg, indent=2) + "\n")

    def login(self, srv, user, password, headers=None, content_type="application/json",
              timeout=10):
        h = {"Content-Type": content_type} if content_type else {}
        h.update(headers or {})
        return srv.request("POST", "/api/login", json.dumps({"user": user, "password": password}),
                           headers=h, auth=False, timeout=timeout)

    def session(self, srv, user, password, headers=None):
        r = self.login(srv, user, password, headers)
        self.assertEqual(r.status, 200, "login of %s: %s" % (user, mask(r)))
        return Session.from_answer(srv, user, r)

    def age_session(self, session, last_seen_ago=None, created_ago=None):
        """Moves a session's last request and/or its login back in time."""
        for column, ago in (("last_seen_at", last_seen_ago), ("created_at", created_ago)):
            if ago is not None:
                n = self.db_exec("UPDATE ferry_sessions SET %s = ? WHERE session_hash = ?"
                                 % column, (iso_ago(ago), sha256_hex(session.cookie)))
                self.assertEqual(n, 1, "the session is not in ferry_sessions")

    def token_id(self, token):
        (row,) = self.query("SELECT id FROM ferry_api_tokens WHERE token_hash = ?",
                            (sha256_hex(token),))
        return row[0]

    def cli(self, *args, input=None):
        """Runs ferry with args and checks that it exits 0; returns its stdout."""
        code, out, err = self.run_ferry(*args, input=input)
        self.assertEqual(code, 0, "ferry %s exited %d: %s" % (args[:2], code, mask(err)))
        return out

    def assert_error(self, r, status, code):
        msg = mask(r)
        self.assertEqual(r.status, status, msg)
        self.assertEqual(r.header("Content-Type"), "application/json", msg)
        self.assertIsInstance(r.json, dict, msg)
        self.assertEqual(set(r.json), {"error"}, msg)
        self.assertEqual(r.json["error"].get("code"), code, msg)
        self.assertTrue(r.json["error"].get("message"), msg)
        if code == "unauthorized":
            self.assertRegex(r.header("WWW-Authenticate") or "", r"^Bearer\b", msg)
        return r.json["error"]["message"]

    # Comparisons of secrets whose failure messages show nothing but masked text (unittest's
    # own assertNotIn, assertNotEqual... print both operands).
    def assert_same(self, got, want, what):
        if got != want:
            self.fail(mask("%s: got %r, want %r" % (what, got, want)))

    def assert_differs(self, a, b, what):
        if a == b:
            self.fail("%s: both are the same" % what)

    def assert_absent(self, secret, text, what):
        self.assertTrue(secret, what)
        if secret in text:
            self.fail("%s appears where it must not" % what)

    def assert_ok(self, r, status=200):
        self.assertEqual(r.status, status, mask(r))
        return r.json

    def assert_no_secrets(self, srv, named_secrets):
        """None of the secrets (name -> value) appears in the server's stderr."""
        err = srv.stderr_text()
        for name, value in named_secrets.items():
            self.assert_absent(value, err, "%s, in the server's stderr," % name)

    def slow_route(self, path, rows=3000, seconds=4.0):
        """A loopback route that drips rows of CSV over about `seconds`."""
        body = csv_text(HEADER, people_rows(rows)).encode()
        pieces = 40
        return self.server.route(path, body=body, drip_bytes=len(body) // pieces + 1,
                                 drip_pause=seconds / pieces)


# ---- 1. who may call what ----

# Every route of docs/api.md's role table against every kind of caller. A cell is what the
# caller gets: 401 (unauthorized, with WWW-Authenticate: Bearer), 403 (forbidden: the role
# does not allow it), csrf (403 csrf: a change by cookie without the right X-CSRF-Token), or
# ok: the gate lets it through and the route answers what ALLOWED says (200 by default).
#
# Columns: none = no credentials; viewer, operator, admin = that role, each both by session
# cookie (with X-CSRF-Token) and by Bearer token; revoked = a revoked token; expired = a
# session idle past session_idle; disabled = a disabled user's token and session; no-csrf = an
# admin's cookie without X-CSRF-Token; bad-csrf = with another session's X-CSRF-Token.
MATRIX = """
route                        none viewer operator admin revoked expired disabled no-csrf bad-csrf
GET /api/syncs               401  ok     ok       ok    401     401     401      ok      ok
POST /api/syncs/t/runs       401  403    ok       ok    401     401     401      csrf    csrf
GET /api/runs                401  ok     ok       ok    401     401     401      ok      ok
GET /api/runs/{run}          401  ok     ok       ok    401     401     401      ok      ok
GET /api/runs/{run}/changes  401  ok     ok       ok    401     401     401      ok      ok
POST /api/runs/{run}/cancel  401  403    ok       ok    401     401     401      csrf    csrf
GET /api/runs/export         401  ok     ok       ok    401     401     401      ok      ok
GET /api/events              401  ok     ok       ok    401     401     401      ok      ok
GET /api/stats               401  ok     ok       ok    401     401     401      ok      ok
GET /api/me                  401  ok     ok       ok    401     401     401      ok      ok
POST /api/logout             401  ok     ok       ok    401     401     401      csrf    csrf
POST /api/me/password        401  ok     ok       ok    401     401     401      csrf    csrf
GET /api/users               401  403    403      ok    401     401     401      ok      ok
POST /api/users              401  403    403      ok    401     401     401      csrf    csrf
PATCH /api/users/dummy       401  403    403      ok    401     401     401      csrf    csrf
GET /api/tokens              401  403    403      ok    401     401     401      ok      ok
POST /api/tokens             401  403    403      ok    401     401     401      csrf    csrf
DELETE /api/tokens/{token}   401  403    403      ok    401     401     401      csrf    csrf
GET /api/audit               401  403    403      ok    401     401     401      ok      ok
GET /metrics                 ok   ok     ok       ok    ok      ok      ok       ok      ok
GET /healthz                 ok   ok     ok       ok    ok      ok      ok       ok      ok
GET /readyz                  ok   ok     ok       ok    ok      ok      ok       ok      ok
"""

# What an allowed call answers, when not 200: "STATUS[|STATUS] [code]", or one per kind of
# credential. A run start answers 202, or 200 naming the run another row started; cancelling
# a finished run is 409; logout and password changes need a session; the password change of
# the matrix sends a too-short new password, so it stops at 400 once past the gate.
ALLOWED = {
    "POST /api/syncs/t/runs": "202|200",
    "POST /api/runs/{run}/cancel": "409 not_active",
    "POST /api/logout": {"session": "200", "token": "400 not_a_session"},
    "POST /api/me/password": {"session": "400 bad_parameter", "token": "400 not_a_session"},
    "POST /api/users": "201",
    "POST /api/tokens": "201",
}

BODIES = {
    "POST /api/me/password": {"current_password": "whatever it is", "new_password": "short"},
    "PATCH /api/users/dummy": {"role": "viewer"},
    "POST /api/tokens": {"user": "dummy", "name": "matrix"},
    # POST /api/users: a new name each time (made in the test)
}


def parse_matrix(text):
    lines = [l.split() for l in text.strip().splitlines()]
    columns = lines[0][1:]
    rows = []
    for parts in lines[1:]:
        method, path, cells = parts[0], parts[1], parts[2:]
        assert len(cells) == len(columns), parts
        rows.append((method, path, dict(zip(columns, cells))))
    return columns, rows


class RoleMatrixTest(AuthTestCase):
    def setUp(self):
        super().setUp()
        self.write_auth_config(session_idle="1m")
        self.passwords = {name: self.make_user(name, role) for name, role in
                          (("vera", "viewer"), ("otto", "operator"), ("ada", "admin"),
                           ("dora", "operator"), ("dummy", "viewer"))}
        self.tokens = {name: self.make_token(name, "matrix-" + name)
                       for name in ("vera", "otto", "ada", "dora")}
        self.revoked = self.make_token("otto", "to-revoke")
        self.cli("token", "revoke", str(self.token_id(self.revoked)))

    def callers(self, srv):
        """column -> [(caller name, kind, function giving a client for a request)]."""
        def fixed(client):
            return lambda fresh=False: client

        def session_of(name):
            current = [self.session(srv, name, self.passwords[name])]

            def get(fresh=False):
                # A fresh login for calls that end the session (logout).
                return self.session(srv, name, self.passwords[name]) if fresh else current[0]
            return get

        sessions = {name: session_of(name) for name in ("vera", "otto", "ada")}
        expired = self.session(srv, "otto", self.passwords["otto"])
        self.age_session(expired, last_seen_ago=120)
        dora = self.session(srv, "dora", self.passwords["dora"])
        self.assert_ok(dora.get("/api/me"))
        self.cli("user", "disable", "dora")
        ada = sessions["ada"]()
        other = self.session(srv, "vera", self.passwords["vera"])
        no_csrf = NoCsrfSession(srv, "ada", ada.cookie, ada.csrf)
        bad_csrf = Session(srv, "ada", ada.cookie, other.csrf)

        def both(role, name):
            return [("%s %s's session" % (role, name), "session", sessions[name]),
                    ("%s %s's token" % (role, name), "token",
                     fixed(Bearer(srv, self.tokens[name])))]
        return {
            "none": [("no credentials", "none", fixed(Client(srv)))],
            "viewer": both("viewer", "vera"),
            "operator": both("operator", "otto"),
            "admin": both("admin", "ada"),
            "revoked": [("revoked token", "token", fixed(Bearer(srv, self.revoked)))],
            "expired": [("expired session", "session", fixed(expired))],
            "disabled": [("disabled user's token", "token",
                          fixed(Bearer(srv, self.tokens["dora"]))),
                         ("disabled user's session", "session", fixed(dora))],
            "no-csrf": [("admin cookie without X-CSRF-Token", "session", fixed(no_csrf))],
            "bad-csrf": [("admin cookie with another session's X-CSRF-Token", "session",
                          fixed(bad_csrf))],
        }

    def check_cell(self, srv, method, path, key, expect, kind, client):
        """None when the answer matches the cell, else what was wrong."""
        if path == "/api/events" and expect == "ok":
            s = client.events()
            ctype = s.headers.get("content-type", "")
            s.close()
            if s.status != 200 or not ctype.startswith("text/event-stream"):
                return "got %d %s" % (s.status, ctype)
            return None
        body = BODIES.get(key)
        if key == "POST /api/users":
            self.user_seq += 1
            body = {"name": "matrix-%d" % self.user_seq, "role": "viewer",
                    "password": LONG_PASSWORD}
        r = client.request(method, path, body)
        got = status_code(r)
        if expect in ("401", "403", "csrf"):
            status, code = {"401": (401, "unauthorized"), "403": (403, "forbidden"),
                            "csrf": (403, "csrf")}[expect]
            try:
                self.assert_error(r, status, code)
            except AssertionError:
                return "got %s" % got
            return None
        spec = ALLOWED.get(key, "200")
        if isinstance(spec, dict):
            spec = spec[kind]
        statuses, _, code = spec.partition(" ")
        ok = (r.status not in (401, 403) and str(r.status) in statuses.split("|") and
              (not code or (isinstance(r.json, dict) and
                            r.json.get("error", {}).get("code") == code)))
        return None if ok else "got %s, want %s" % (got, spec)

    def test_every_route_answers_every_caller_as_the_role_table_says(self):
        columns, rows = parse_matrix(MATRIX)
        self.user_seq = 0
        with self.serve() as srv:
            run_id = srv.run_to_end("t")["id"]
            callers = self.callers(srv)
            self.assertEqual(sorted(callers), sorted(columns))
            cells, wrong, forbidden = 0, [], 0
            for method, path_pattern, expected in rows:
                key = "%s %s" % (method, path_pattern)
                for column in columns:
                    expect = expected[column]
                    for name, kind, get_client in callers[column]:
                        path = path_pattern.replace("{run}", str(run_id))
                        if "{token}" in path:
                            victim = self.assert_ok(srv.post("/api/tokens", {"user": "dummy",
                                                                              "name": "victim"}),
                                                    201)
                            path = path.replace("{token}", str(victim["id"]))
                        fresh = key == "POST /api/logout" and expect == "ok" and kind == "session"
                        problem = self.check_cell(srv, method, path, key, expect, kind,
                                                  get_client(fresh=fresh))
                        cells += 1
                        forbidden += expect == "403"
                        if problem:
                            wrong.append("%-32s as %-50s expected %-5s %s"
                                         % (key, name, expect, problem))
            self.assertEqual(cells, 22 * 13)
            if wrong:
                self.fail(mask("%d of %d cells differ:\n%s" % (len(wrong), cells,
                                                                "\n".join(wrong))))

            # Each 403 forbidden was audited as refused (the 401s and csrf refusals are not).
            refused = srv.get_json("/api/audit?action=refused&limit=1000")["entries"]
            self.assertEqual(len(refused), forbidden)
            self.assertEqual({e["actor"] for e in refused}, {"vera", "otto"})
            self.assertEqual(srv.stderr_text().count('msg="refused"'), forbidden)
            # The matrix's sessions still work: the logout rows ended fresh ones, and a
            # refused change (csrf) ends nothing.
            for column in ("viewer", "operator", "admin"):
                self.assert_ok(callers[column][0][2]().get("/api/me"))
        secrets_seen = {"token of " + k: v for k, v in self.tokens.items()}
        secrets_seen.update({"password of " + k: v for k, v in self.passwords.items()})
        secrets_seen["revoked token"] = self.revoked
        self.assert_no_secrets(srv, secrets_seen)


# ---- 2. logging in ----

class LoginTest(AuthTestCase):
    def test_login_sets_a_strict_http_only_session_cookie_and_returns_the_csrf_token(self):
        self.write_auth_config(session_max="2h")
        pw = self.make_user("ana", "operator")
        with self.serve() as srv:
            r = self.login(srv, "ana", pw)
            self.assertEqual(r.status, 200, mask(r))
            self.assertEqual(r.header("Cache-Control"), "no-store")
            self.assertEqual(set(r.json), {"user", "csrf_token"}, mask(r))
            self.assertEqual(r.json["user"], {"name": "ana", "role": "operator"})
            self.assertRegex(r.json["csrf_token"], r"^[0-9a-f]{64}$")
            name, value, attrs = parse_set_cookie(r.header("Set-Cookie"))
            self.assertEqual(name, COOKIE)
            self.assertRegex(value, r"^fs_[A-Za-z0-9_-]{43}$")
            self.assertIs(attrs.get("httponly"), True, mask(attrs))
            self.assertEqual(attrs.get("samesite"), "Strict")
            self.assertEqual(attrs.get("path"), "/")
            self.assertEqual(attrs.get("max-age"), "7200")  # session_max
            self.assertNotIn("secure", attrs)  # plain HTTP, no TLS proxy

            s = Session.from_answer(srv, "ana", r)
            me = self.assert_ok(s.get("/api/me"))
            self.assert_same(me, {"user": {"name": "ana", "role": "operator"}, "auth": "session",
                                  "csrf_token": s.csrf, "token": None}, "GET /api/me")
            self.assertEqual(self.assert_ok(s.post("/api/syncs/t/runs"), 202)["user"], "ana")

            # User names ignore case; the answer names the user as stored.
            r = self.login(srv, "ANA", pw)
            self.assertEqual(self.assert_ok(r)["user"], {"name": "ana", "role": "operator"})

            # Behind a TLS proxy the cookie is Secure.
            r = self.login(srv, "ana", pw, headers={"X-Forwarded-Proto": "https"})
            self.assertEqual(r.status, 200, mask(r))
            _, _, attrs = parse_set_cookie(r.header("Set-Cookie"))
            self.assertIs(attrs.get("secure"), True, mask(r.header("Set-Cookie")))
            self.assertIs(attrs.get("httponly"), True)

            # Logout ends the session and clears the cookie.
            r = s.post("/api/logout")
            self.assertEqual(self.assert_ok(r), {"message": "Logged out."})
            name, value, attrs = parse_set_cookie(r.header("Set-Cookie"))
            self.assertEqual((name, value, attrs.get("max-age")), (COOKIE, "", "0"))
            self.assert_error(s.get("/api/me"), 401, "unauthorized")
            self.assert_error(s.post("/api/logout"), 401, "unauthorized")
        self.assert_no_secrets(srv, {"the password": pw, "the session id": s.cookie})

    def test_wrong_password_unknown_user_and_disabled_user_get_the_same_401(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        dora_pw = self.make_user("dora", "operator")
        self.cli("user", "disable", "dora")
        with self.serve() as srv:
            answers = {
                "wrong password": self.login(srv, "ana", "not the password"),
                "unknown user": self.login(srv, "nobody-at-all", "not the password"),
                "disabled user, right password": self.login(srv, "dora", dora_pw),
            }
            for what, r in answers.items():
                self.assert_error(r, 401, "login_failed")
                self.assertIsNone(r.header("Set-Cookie"), what)
            bodies = {what: r.body for what, r in answers.items()}
            self.assertEqual(len(set(bodies.values())), 1, bodies)

            def head(r):
                # the date and the request's own id differ between any two answers
                return sorted((k.lower(), v) for k, v in r.headers
                              if k.lower() not in ("date", "x-request-id"))
            heads = [head(r) for r in answers.values()]
            self.assertEqual(heads[0], heads[1])
            self.assertEqual(heads[0], heads[2])
            # Right name and password still works (three failures are free).
            self.assert_ok(self.login(srv, "ana", pw))

    def test_login_needs_a_json_body_sent_as_json(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        body = json.dumps({"user": "ana", "password": pw})
        with self.serve() as srv:
            for ctype in ("text/plain", "application/x-www-form-urlencoded",
                          "multipart/form-data; boundary=x", None):
                headers = {"Content-Type": ctype} if ctype else {}
                r = srv.request("POST", "/api/login", body, headers=headers, auth=False)
                self.assert_error(r, 415, "unsupported_media_type")
            r = srv.request("POST", "/api/login", "user=ana&password=x",
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            auth=False)
            self.assert_error(r, 415, "unsupported_media_type")
            json_h = {"Content-Type": "application/json"}
            for bad in ("{not json", "[]", '"ana"'):
                r = srv.request("POST", "/api/login", bad, headers=json_h, auth=False)
                self.assert_error(r, 400, "bad_json")
            for fields in ({"user": "ana"}, {"password": pw}, {"user": "", "password": pw},
                           {"user": "ana", "password": 5}):
                r = srv.request("POST", "/api/login", json.dumps(fields), headers=json_h,
                                auth=False)
                self.assert_error(r, 400, "bad_parameter")
            r = self.login(srv, "ana", pw, content_type="application/json; charset=utf-8")
            self.assert_ok(r)

    def test_every_login_makes_a_new_session_and_ends_the_one_it_presents(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        with self.serve() as srv:
            first = self.session(srv, "ana", pw)
            # A second login that presents the first cookie: a new id, and the old one ends.
            r = self.login(srv, "ana", pw, headers={"Cookie": "%s=%s" % (COOKIE, first.cookie)})
            second = Session.from_answer(srv, "ana", r)
            self.assert_differs(second.cookie, first.cookie, "the session ids of two logins")
            self.assert_differs(second.csrf, first.csrf, "the CSRF tokens of two logins")
            self.assert_error(first.get("/api/me"), 401, "unauthorized")
            self.assert_same(self.assert_ok(second.get("/api/me"))["csrf_token"], second.csrf,
                             "the CSRF token of GET /api/me")

            # A login from another browser (no cookie) leaves the other sessions alone.
            third = self.session(srv, "ana", pw)
            self.assertTrue(third.cookie not in (first.cookie, second.cookie),
                            "a login reused a session id")
            self.assert_ok(second.get("/api/me"))
            self.assert_ok(third.get("/api/me"))
            # A CSRF token belongs to its session.
            self.assert_error(third.post("/api/syncs/t/runs", csrf=second.csrf), 403, "csrf")
            self.assert_ok(third.post("/api/syncs/t/runs"), 202)
            # The old session id stays dead when presented again at a login.
            self.session(srv, "ana", pw, headers={"Cookie": "%s=%s" % (COOKIE, first.cookie)})
            self.assert_error(first.get("/api/me"), 401, "unauthorized")
            self.assertEqual(self.query("SELECT count(*) FROM ferry_sessions")[0][0], 3)


# ---- 3. throttling failed logins ----

class ThrottleTest(AuthTestCase):
    def attempts(self, srv, names, passwords):
        """Logs in with each password in turn, as the names in turn: [(status, body,
        Retry-After)]."""
        out = []
        for i, pw in enumerate(passwords):
            r = self.login(srv, names[i % len(names)], pw)
            out.append((r.status, r.body, r.header("Retry-After")))
        return out

    def test_a_user_name_is_locked_after_five_failures_whether_or_not_it_exists(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        with self.serve() as srv:
            # Five failures are free; the sixth locks the name for 2 s, so the seventh try is
            # refused, even with the right password.
            # The name is counted whatever its case (names ignore case).
            ana = self.attempts(srv, ["ana", "ANA", "Ana"], ["wrong %d" % i for i in range(6)]
                                + [pw])
            self.assertEqual([a[0] for a in ana], [401] * 6 + [429], ana)
            r = self.login(srv, "ana", pw)
            self.assert_error(r, 429, "throttled")
            retry = int(r.header("Retry-After"))
            self.assertIn(retry, (1, 2), r.headers)
            self.assertIsNone(r.header("Set-Cookie"))

            # A name that does not exist gets exactly the same answers, but for how long is
            # left to wait: 2 s at the lock, 1 s once the try comes a second or more after it
            # (a busy machine), and those seconds are in the body too.
            ghost = self.attempts(srv, ["ghost", "GHOST", "Ghost"],
                                  ["wrong %d" % i for i in range(6)] + [pw])

            def waits(answers):
                return [(status, re.sub(rb"in [12] s\b", b"in N s", body),
                         None if after is None else after in ("1", "2"))
                        for status, body, after in answers]
            self.assertEqual(waits(ghost), waits(ana))
            self.assertEqual(ghost[-1][2], str(re.search(rb"in ([12]) s\b", ghost[-1][1])
                                               .group(1).decode()), ghost[-1])

            # Once Retry-After has passed, the right password works and resets the count: the
            # next failure is free again.
            deadline = time.monotonic() + retry + 1.0
            time.sleep(retry)
            while True:
                r = self.login(srv, "ana", pw)
                if r.status != 429 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assert_ok(r)
            self.assert_error(self.login(srv, "ana", "wrong again"), 401, "login_failed")
            self.assert_ok(self.login(srv, "ana", pw))
            self.assertRegex(srv.stderr_text(), r'msg="login throttled"')

    def test_an_address_is_locked_after_twenty_failures_whatever_the_names(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        with self.serve() as srv:
            for i in range(21):  # 20 free failures, and the one that locks the address
                self.assert_error(self.login(srv, "nobody%02d" % i, "wrong"), 401, "login_failed")
            # ana never failed, but her address did.
            r = self.login(srv, "ana", pw)
            self.assert_error(r, 429, "throttled")
            retry = int(r.header("Retry-After"))
            self.assertIn(retry, (1, 2))
            self.assert_error(self.login(srv, "nobody99", "wrong"), 429, "throttled")
            time.sleep(retry)
            deadline = time.monotonic() + 1.0
            while True:
                r = self.login(srv, "ana", pw)
                if r.status != 429 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.assert_ok(r)

    def test_logins_beyond_what_the_hashing_pool_takes_are_answered_503_busy(self):
        # Two passwords are checked at once and 32 wait: of 80 logins sent at once, some
        # find the queue full. An attempt counts as a failure until its password is found
        # right, so the 80 come from four users on four loopback addresses, five for each
        # (user, address): within every key's free attempts, so nothing is throttled, and a
        # 503 gives its attempt back. The 34 accepted ones are hashed two at a time, which on a
        # busy machine takes longer than a request's usual 10 s: the clients wait as long as
        # that takes (bounded).
        import http.client
        import threading
        self.write_auth_config()
        users = ["ana", "bob", "cy", "dee"]
        pws = {u: self.make_user(u, "operator") for u in users}
        n = 80
        with self.serve() as srv:
            answers, barrier = [], threading.Barrier(n)

            def login(user, source):
                barrier.wait(timeout=10)
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=120,
                                                  source_address=(source, 0))
                try:
                    conn.request("POST", "/api/login",
                                 json.dumps({"user": user, "password": pws[user]}),
                                 {"Content-Type": "application/json"})
                    r = conn.getresponse()
                    answers.append(ferrytest.ApiResponse(r.status, r.getheaders(), r.read()))
                except OSError as e:
                    answers.append(e)
                finally:
                    conn.close()
            threads = [threading.Thread(target=login,
                                        args=(users[i % 4], "127.0.0.%d" % (2 + i // 4 % 4)))
                       for i in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=150)
            statuses = sorted(getattr(r, "status", r) for r in answers)
            self.assertEqual(len(answers), n)
            self.assertEqual(set(statuses), {200, 503}, statuses)
            self.assertGreaterEqual(statuses.count(200), 34, statuses)
            for r in answers:
                if r.status == 503:
                    self.assert_error(r, 503, "busy")
                    self.assertEqual(r.header("Retry-After"), "1")
                    self.assertIsNone(r.header("Set-Cookie"))
            self.assert_ok(self.login(srv, "ana", pws["ana"]))

    def test_a_wrong_current_password_counts_as_a_failed_login(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        with self.serve() as srv:
            s = self.session(srv, "ana", pw)
            for i in range(6):
                r = s.post("/api/me/password", {"current_password": "wrong %d" % i,
                                                "new_password": LONG_PASSWORD})
                self.assert_error(r, 403, "wrong_password")
            self.assert_error(self.login(srv, "ana", pw), 429, "throttled")
            r = s.post("/api/me/password", {"current_password": pw, "new_password": LONG_PASSWORD})
            self.assert_error(r, 429, "throttled")
            self.assert_ok(s.get("/api/me"))  # the session itself lives on
            # Audited apart from real changes, so ?action=user.passwd lists only those.
            failed = srv.get_json("/api/audit?action=user.passwd.failed")["entries"]
            self.assertEqual([(e["actor"], e["target"]) for e in failed], [("ana", "ana")] * 6)
            self.assertEqual(srv.get_json("/api/audit?action=user.passwd")["entries"], [])


# ---- 4. password changes and disabled users end sessions ----

class PasswordChangeTest(AuthTestCase):
    def test_changing_ones_password_ends_the_other_sessions_and_renews_this_one(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        token = self.make_token("ana", "backend")
        new_pw = "a brand new password"
        with self.serve() as srv:
            a = self.session(srv, "ana", pw)
            b = self.session(srv, "ana", pw)
            r = a.post("/api/me/password", {"current_password": "not it", "new_password": new_pw})
            self.assert_error(r, 403, "wrong_password")
            r = a.post("/api/me/password", {"current_password": pw, "new_password": "short"})
            self.assert_error(r, 400, "bad_parameter")
            r = Bearer(srv, token).post("/api/me/password", {"current_password": pw,
                                                              "new_password": new_pw})
            self.assert_error(r, 400, "not_a_session")
            self.assert_ok(b.get("/api/me"))

            r = a.post("/api/me/password", {"current_password": pw, "new_password": new_pw})
            self.assertEqual(r.status, 200, mask(r))
            self.assertEqual(set(r.json), {"message", "csrf_token"}, mask(r))
            renewed = Session.from_answer(srv, "ana", r)
            self.assert_differs(renewed.cookie, a.cookie, "the session id before and after")
            self.assert_differs(renewed.csrf, a.csrf, "the CSRF token before and after")
            _, _, attrs = parse_set_cookie(r.header("Set-Cookie"))
            self.assertIs(attrs.get("httponly"), True)

            self.assert_error(b.get("/api/me"), 401, "unauthorized")
            self.assert_error(a.get("/api/me"), 401, "unauthorized")
            self.assert_same(self.assert_ok(renewed.get("/api/me"))["csrf_token"], renewed.csrf,
                             "the CSRF token of GET /api/me")
            self.assert_error(renewed.post("/api/syncs/t/runs", csrf=a.csrf), 403, "csrf")
            self.assert_ok(renewed.post("/api/syncs/t/runs"), 202)

            self.assert_error(self.login(srv, "ana", pw), 401, "login_failed")
            self.assert_ok(self.login(srv, "ana", new_pw))
            # A token is not a session: it lives on.
            self.assert_ok(Bearer(srv, token).get("/api/me"))
        self.assert_no_secrets(srv, {"old password": pw, "new password": new_pw})

    def test_a_password_set_by_an_admin_or_the_cli_ends_the_users_sessions(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        pw2, pw3 = "set by the admin", "set on the command line"
        with self.serve() as srv:
            s = self.session(srv, "ana", pw)
            before = self.assert_ok(srv.get("/api/users"))["users"]
            r = srv.request("PATCH", "/api/users/ana", {"password": pw2})
            user = self.assert_ok(r)
            self.assertEqual((user["name"], user["role"], user["disabled"]),
                             ("ana", "operator", False))
            old = [u for u in before if u["name"] == "ana"][0]["password_changed_at"]
            self.assertGreaterEqual(user["password_changed_at"], old)
            self.assert_error(s.get("/api/me"), 401, "unauthorized")
            self.assert_error(self.login(srv, "ana", pw), 401, "login_failed")
            s2 = self.session(srv, "ana", pw2)

            self.cli("user", "passwd", "ana", "--password-stdin", input=pw3 + "\n")
            self.assert_error(s2.get("/api/me"), 401, "unauthorized")
            self.assert_error(self.login(srv, "ana", pw2), 401, "login_failed")
            self.assert_ok(self.session(srv, "ana", pw3).get("/api/me"))

    def test_disabling_a_user_by_api_or_cli_ends_their_sessions_and_stops_their_tokens(self):
        self.write_auth_config()
        pw = self.make_user("ana", "operator")
        token = Bearer(None, self.make_token("ana", "backend"))
        with self.serve() as srv:
            token.srv = srv
            s = self.session(srv, "ana", pw)
            self.assert_ok(token.get("/api/me"))
            user = self.assert_ok(srv.request("PATCH", "/api/users/ana", {"disabled": True}))
            self.assertIs(user["disabled"], True)
            self.assert_error(s.get("/api/me"), 401, "unauthorized")
            self.assert_error(token.get("/api/me"), 401, "unauthorized")
            self.assert_error(token.post("/api/syncs/t/runs"), 401, "unauthorized")
            self.assert_error(self.login(srv, "ana", pw), 401, "login_failed")

            # Enabled again: the token acts again, the ended session does not come back.
            self.assert_ok(srv.request("PATCH", "/api/users/ana", {"disabled": False}))
            self.assert_ok(token.get("/api/me"))
            self.assert_error(s.get("/api/me"), 401, "unauthorized")

            s2 = self.session(srv, "ana", pw)
            self.cli("user", "disable", "ana")
            self.assert_error(s2.get("/api/me"), 401, "unauthorized")
            self.assert_error(token.get("/api/me"), 401, "unauthorized")
            self.assert_error(self.login(srv, "ana", pw), 401, "login_failed")
            self.cli("user", "enable", "ana")
            self.assert_ok(token.get("/api/me"))
            self.assert_error(s2.get("/api/me"), 401, "unauthorized")
            self.assert_ok(self.login(srv, "ana", pw))


# ---- session lifetime ----

class SessionLifetimeTest(AuthTestCase):
    def test_a_session_ends_after_session_idle_without_a_request_or_session_max_after_login(self):
        self.write_auth_config(session_idle="1m", session_max="1h")
        pw = self.make_user("ana", "viewer")
        with self.serve() as srv:
            s = self.session(srv, "ana", pw)
            self.age_session(s, last_seen_ago=30)
            self.assert_ok(s.get("/api/me"))
            self.age_session(s, last_seen_ago=61)
            msg = self.assert_error(s.get("/api/me"), 401, "unauthorized")
            self.assertIn("log in again", msg)
            # The ended session is gone from the store.
            self.assertEqual(self.query("SELECT count(*) FROM ferry_sessions WHERE "
                                        "session_hash = ?", (sha256_hex(s.cookie),))[0][0], 0)

            busy = self.session(srv, "ana", pw)
            self.age_session(busy, last_seen_ago=1, created_ago=59 * 60)
            self.assert_ok(busy.get("/api/me"))
            self.age_session(busy, last_seen_ago=1, created_ago=61 * 60)
            self.assert_error(busy.get("/api/me"), 401, "unauthorized")

    # The store records a request at most once a minute and at least four times per idle
    # period, so with session_idle: 1m a request at 58.5 s of silence restarts the clock.
    def test_a_request_restarts_the_idle_clock(self):
        self.write_auth_config(session_idle="1m")
        pw = self.make_user("ana", "viewer")
        with self.serve() as srv:
            s = self.session(srv, "ana", pw)
            self.age_session(s, last_seen_ago=58.5)
            self.assert_ok(s.get("/api/me"))  # a request, after 58.5 s of silence
            time.sleep(2.0)
            self.assert_ok(s.get("/api/me"))  # 2 s after the last request


# ---- 5. event streams end with their credential ----

class EventStreamTest(AuthTestCase):
    def test_logout_closes_the_streams_of_that_session_only(self):
        self.write_auth_config()
        pw = self.make_user("ana", "viewer")
        with self.serve() as srv:
            r = srv.request("GET", "/api/events", auth=False)
            self.assert_error(r, 401, "unauthorized")
            refused = SseStream(srv.port)  # no credentials, as a browser would open it
            srv.streams.append(refused)
            self.assertEqual(refused.status, 401)

            a, b = self.session(srv, "ana", pw), self.session(srv, "ana", pw)
            stream_a, stream_b = a.events(), b.events()
            self.assertEqual((stream_a.status, stream_b.status), (200, 200))
            t0 = time.monotonic()
            self.assert_ok(a.post("/api/logout"))
            self.assertTrue(stream_a.wait_ended(timeout=5), "the stream outlived its session")
            self.assertLess(time.monotonic() - t0, 5)

            # The other session's stream stays open and still gets events.
            self.assertIsNone(stream_b.next_event(timeout=0.5))
            self.assertFalse(stream_b.ended, "a logout ended another session's stream")
            run_id = srv.start_run("t")["id"]
            got = stream_b.events_until(lambda e: e["event"] == "run.finished", timeout=10)
            self.assertEqual([e["data"]["id"] for e in got[-1:]], [run_id], got)

    def test_revoking_a_token_closes_its_streams(self):
        self.write_auth_config()
        self.make_user("ana", "viewer")
        with self.serve() as srv:
            made = self.assert_ok(srv.post("/api/tokens", {"user": "ana", "name": "dash"}), 201)
            stream = Bearer(srv, made["token"]).events()
            admin_stream = srv.events()
            self.assertEqual(stream.status, 200)
            t0 = time.monotonic()
            self.assert_ok(srv.request("DELETE", "/api/tokens/%d" % made["id"]))
            self.assertTrue(stream.wait_ended(timeout=5), "the stream outlived its token")
            self.assertLess(time.monotonic() - t0, 5)
            self.assertIsNone(admin_stream.next_event(timeout=0.3))
            self.assertFalse(admin_stream.ended, "revoking a token ended another's stream")
            self.assertEqual(Bearer(srv, made["token"]).events().status, 401)

    def test_disabling_a_user_or_changing_their_password_closes_their_streams(self):
        self.write_auth_config()
        pw = self.make_user("ana", "viewer")
        token = self.make_token("ana", "dash")
        with self.serve() as srv:
            by_session = self.session(srv, "ana", pw).events()
            by_token = Bearer(srv, token).events()
            self.assert_ok(srv.request("PATCH", "/api/users/ana", {"disabled": True}))
            self.assertTrue(by_session.wait_ended(timeout=5), "disabled: session stream open")
            self.assertTrue(by_token.wait_ended(timeout=5), "disabled: token stream open")

            self.assert_ok(srv.request("PATCH", "/api/users/ana", {"disabled": False}))
            s = self.session(srv, "ana", pw)
            stream = s.events()
            self.assert_ok(srv.request("PATCH", "/api/users/ana", {"password": "another secret"}))
            self.assertTrue(stream.wait_ended(timeout=5), "password set: session stream open")


# ---- 6. secrets stay out of URLs and logs ----

class SecretsTest(AuthTestCase):
    def test_tokens_in_the_url_are_refused(self):
        self.write_auth_config()
        self.make_user("ana", "operator")
        token = self.make_token("ana", "backend")
        with self.serve() as srv:
            for name in ("access_token", "token"):
                for path in ("/api/syncs?%s=%s", "/api/me?%s=%s", "/api/events?%s=%s"):
                    r = srv.get(path % (name, token), auth=False)
                    msg = self.assert_error(r, 401, "unauthorized")
                    self.assertIn("URL", msg)
                # Not even next to a valid header.
                r = srv.get("/api/syncs?%s=%s" % (name, token), headers=auth_headers(token),
                            auth=False)
                self.assert_error(r, 401, "unauthorized")
                r = srv.request("POST", "/api/syncs/t/runs?%s=%s" % (name, token), auth=False)
                self.assert_error(r, 401, "unauthorized")
            self.assertEqual(self.query("SELECT count(*) FROM ferry_runs")[0][0], 0)
            self.assert_ok(Bearer(srv, token).get("/api/syncs"))
        self.assert_no_secrets(srv, {"the token": token})

    def test_no_token_password_or_session_id_reaches_the_servers_log(self):
        self.write_auth_config()
        pw = self.make_user("ana", "viewer")
        token = self.make_token("ana", "backend")
        wrong = "wrong-" + secrets.token_hex(8)
        with self.serve() as srv:
            s = self.session(srv, "ana", pw)
            self.assert_error(s.post("/api/syncs/t/runs"), 403, "forbidden")  # logged: refused
            self.assert_error(self.login(srv, "ana", wrong), 401, "login_failed")
            self.assert_error(self.login(srv, "nobody", wrong), 401, "login_failed")
            self.assert_error(Bearer(srv, token + "x").get("/api/me"), 401, "unauthorized")
            self.assert_error(srv.get("/api/me?access_token=" + token, auth=False), 401,
                              "unauthorized")
            made = self.assert_ok(srv.post("/api/tokens", {"user": "ana", "name": "new"}), 201)
            self.assert_ok(srv.post("/api/users", {"name": "bob", "role": "viewer",
                                                   "password": LONG_PASSWORD}), 201)
            self.assert_ok(srv.request("PATCH", "/api/users/bob", {"password": wrong + "!"}))
            changed = s.post("/api/me/password", {"current_password": pw,
                                                  "new_password": LONG_PASSWORD + "!"})
            self.assert_ok(changed)
            renewed = Session.from_answer(srv, "ana", changed)
            self.assert_ok(renewed.post("/api/logout"))
            self.assert_ok(Bearer(srv, token).get("/api/me"))
        err = srv.stderr_text()
        self.assertIn('msg="login"', err)  # the log was read: logins are in it
        self.assertIn('msg="login failed"', err)
        self.assert_no_secrets(srv, {
            "ana's token": token, "the admin's token": srv.token, "the new token": made["token"],
            "ana's password": pw, "a wrong password": wrong, "bob's password": LONG_PASSWORD,
            "ana's session id": s.cookie, "ana's renewed session id": renewed.cookie,
            "ana's CSRF token": s.csrf})
        self.assertIsNone(SESSION_RE.search(err), "a session id appears in the server's stderr")
        self.assertIsNone(ferrytest.TOKEN_RE.search(err), "a token appears in the server's stderr")


# ---- 7. the audit trail ----

class AuditTest(AuthTestCase):
    def test_runs_record_who_started_and_who_cancelled_them(self):
        self.write_csv("people.csv", HEADER, people_rows(3))
        self.write_auth_config({"t": sync_config("people.csv"),
                                "slow": sync_config(self.slow_route("/slow.csv"), table="slow")},
                               workers=1)
        pw = self.make_user("otto", "operator")
        token = Bearer(None, self.make_token("otto", "backend"))
        with self.serve() as srv:
            token.srv = srv
            s = self.session(srv, "otto", pw)
            by_session = srv.wait_run(self.assert_ok(s.post("/api/syncs/t/runs"), 202)["id"])
            by_token = srv.wait_run(self.assert_ok(token.post("/api/syncs/t/runs"), 202)["id"])
            self.assertEqual((by_session["user"], by_session["token"], by_session["trigger"]),
                             ("otto", None, "api"))
            self.assertEqual((by_token["user"], by_token["token"]), ("otto", "backend"))
            self.assertIsNone(by_token["cancelled_by"])

            # With one worker busy with the slow sync, a run of t waits in the queue.
            slow = srv.start_run("slow")
            srv.wait_run(slow["id"], lambda r: r["status"] == "running", what="to start")
            queued = self.assert_ok(s.post("/api/syncs/t/runs"), 202)
            self.assertEqual(queued["status"], "queued")
            r = s.post("/api/runs/%d/cancel" % queued["id"])
            self.assertEqual((r.status, r.json["status"], r.json["cancelled_by"]),
                             (200, "cancelled", "otto"), mask(r))
            r = srv.post("/api/runs/%d/cancel" % slow["id"])
            self.assertEqual(r.status, 202, mask(r))
            ended = srv.wait_run(slow["id"])
            self.assertEqual((ended["status"], ended["user"], ended["token"],
                              ended["cancelled_by"]),
                             ("cancelled", ADMIN_USER, ferrytest.ADMIN_TOKEN_LABEL, ADMIN_USER))

            def ids(query):
                return [x["id"] for x in srv.get_json("/api/runs?" + query)["runs"]]
            self.assertEqual(ids("user=otto"), [queued["id"], by_token["id"], by_session["id"]])
            self.assertEqual(ids("user=" + ADMIN_USER), [slow["id"]])
            self.assertEqual(ids("user=nobody"), [])

            r = srv.get("/api/runs/export")
            self.assertEqual(r.status, 200, mask(r))
            text = r.body.decode("utf-8")
            self.assertEqual(text.split("\r\n", 1)[0],
                             "id,sync,tenant,status,trigger,user,token,cancelled_by,dry_run,"
                             "queued_at,started_at,finished_at,duration_ms,created,updated,"
                             "unchanged,skipped,failed,deleted,ui_message,error,steps,"
                             "skipped_by_label")
            rows = {int(row["id"]): row for row in csv.DictReader(io.StringIO(text))}
            self.assertEqual((rows[by_token["id"]]["user"], rows[by_token["id"]]["token"]),
                             ("otto", "backend"))
            self.assertEqual((rows[by_session["id"]]["token"], rows[queued["id"]]["cancelled_by"]),
                             ("", "otto"))
            exported = {x["id"]: x for x in srv.get_json("/api/runs/export?format=json")}
            self.assertEqual(exported[slow["id"]]["cancelled_by"], ADMIN_USER)
            self.assertEqual(exported[by_token["id"]]["token"], "backend")

    def test_the_audit_log_names_actor_action_and_target(self):
        self.write_auth_config()
        pw = self.make_user("vic", "viewer")
        cli_pw = "cli made password"
        with self.serve() as srv:
            s = self.session(srv, "vic", pw)
            self.assert_error(self.login(srv, "vic", "wrong one"), 401, "login_failed")
            self.assert_error(self.login(srv, "nosuch", "wrong one"), 401, "login_failed")
            self.assert_error(s.post("/api/syncs/t/runs"), 403, "forbidden")
            self.assert_ok(s.post("/api/logout"))
            self.assert_ok(srv.post("/api/users", {"name": "newbie", "role": "viewer",
                                                   "password": LONG_PASSWORD}), 201)
            self.assert_ok(srv.request("PATCH", "/api/users/newbie", {"password": cli_pw + "x"}))
            self.assert_ok(srv.request("PATCH", "/api/users/newbie", {"role": "operator"}))
            self.assert_ok(srv.request("PATCH", "/api/users/newbie", {"disabled": True}))
            self.assert_ok(srv.request("PATCH", "/api/users/newbie", {"disabled": False}))
            made = self.assert_ok(srv.post("/api/tokens", {"user": "newbie", "name": "ci"}), 201)
            self.assert_ok(srv.request("DELETE", "/api/tokens/%d" % made["id"]))
            self.cli("user", "add", "clio", "--role", "viewer", "--password-stdin",
                     input=cli_pw + "\n")
            self.cli("user", "passwd", "clio", "--password-stdin", input=cli_pw + "2\n")
            self.cli("user", "disable", "clio")
            cli_token = self.make_token("clio", "cli-made")
            self.cli("token", "revoke", str(self.token_id(cli_token)))

            r = srv.get("/api/audit?limit=1000")
            entries = self.assert_ok(r)["entries"]
            self.assertIsNone(r.json["next_cursor"])
            ids = [e["id"] for e in entries]
            self.assertEqual(ids, sorted(ids, reverse=True), "not newest first")
            for e in entries:
                self.assertEqual(set(e), {"id", "at", "actor", "action", "target", "detail",
                                          "client"}, e)
                self.assertRegex(e["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
            got = [(e["actor"], e["action"], e["target"]) for e in entries]
            tok = "token %d" % made["id"]
            cli_tok = "token %d" % self.token_id(cli_token)
            expected = [
                ("cli", "user.add", "vic"),
                ("cli", "user.add", ADMIN_USER),  # serve() made the admin and its token
                ("cli", "token.create", "token 1"),
                ("vic", "login", "vic"),
                (None, "login.failed", "vic"),
                (None, "login.failed", "nosuch"),
                ("vic", "refused", "POST /api/syncs/{name}/runs"),
                ("vic", "logout", "vic"),
                (ADMIN_USER, "user.add", "newbie"),
                (ADMIN_USER, "user.passwd", "newbie"),
                (ADMIN_USER, "user.role", "newbie"),
                (ADMIN_USER, "user.disable", "newbie"),
                (ADMIN_USER, "user.enable", "newbie"),
                (ADMIN_USER, "token.create", tok),
                (ADMIN_USER, "token.revoke", tok),
                ("cli", "user.add", "clio"),
                ("cli", "user.passwd", "clio"),
                ("cli", "user.disable", "clio"),
                ("cli", "token.create", cli_tok),
                ("cli", "token.revoke", cli_tok),
            ]
            for item in expected:
                self.assertIn(item, got)
            # In the order they happened (the log is newest first).
            order = [got.index(item) for item in expected]
            self.assertEqual(order, sorted(order, reverse=True), got)
            by_key = {(e["actor"], e["action"], e["target"]): e for e in entries}
            self.assertEqual(by_key[("vic", "login", "vic")]["client"], "127.0.0.1")
            self.assertIn("role viewer", by_key[(ADMIN_USER, "user.add", "newbie")]["detail"])
            self.assertIn("for newbie (ci)", by_key[(ADMIN_USER, "token.create", tok)]["detail"])
            self.assertIn("by tester on the command line",
                          by_key[("cli", "user.disable", "clio")]["detail"])
            self.assertIn("vic is a viewer",
                          by_key[("vic", "refused", "POST /api/syncs/{name}/runs")]["detail"])
            for secret in (pw, LONG_PASSWORD, cli_pw, made["token"], cli_token, s.cookie,
                           srv.token):
                self.assert_absent(secret, r.body.decode(), "a secret, in the audit log,")

            def listed(query):
                return self.assert_ok(srv.get("/api/audit?" + query))["entries"]
            cli_entries = listed("actor=cli")
            self.assertEqual({e["actor"] for e in cli_entries}, {"cli"})
            self.assertEqual(len(cli_entries), sum(1 for a, _, _ in got if a == "cli"))
            self.assertEqual(sorted(e["target"] for e in listed("action=login.failed")),
                             ["nosuch", "vic"])
            self.assertEqual([(e["actor"], e["action"]) for e in
                              listed("actor=vic&action=refused")], [("vic", "refused")])
            self.assertEqual(listed("actor=nobody"), [])
            page = self.assert_ok(srv.get("/api/audit?limit=2"))
            self.assertEqual([e["id"] for e in page["entries"]], ids[:2])
            nxt = listed("limit=2&cursor=%s" % page["next_cursor"])
            self.assertEqual([e["id"] for e in nxt], ids[2:4])
            for bad in ("limit=0", "limit=1001", "limit=x", "cursor=-1"):
                self.assert_error(srv.get("/api/audit?" + bad), 400, "bad_parameter")


# ---- 8. the admin API ----

class AdminApiTest(AuthTestCase):
    def test_adding_users_checks_name_role_password_and_taken_names(self):
        self.write_auth_config()
        with self.serve() as srv:
            good = {"name": "ana", "role": "operator", "password": LONG_PASSWORD}
            for change, code in (({"name": "bad name"}, "bad_parameter"),
                                 ({"name": ""}, "bad_parameter"),
                                 ({"name": "x" * 65}, "bad_parameter"),
                                 ({"name": "ana/x"}, "bad_parameter"),
                                 ({"role": "root"}, "bad_parameter"),
                                 ({"role": "Admin"}, "bad_parameter"),
                                 ({"password": "short"}, "bad_parameter"),
                                 ({"password": "x" * 1025}, "bad_parameter"),
                                 ({"password": None}, "bad_parameter"),
                                 ({"name": 7}, "bad_parameter")):
                body = dict(good, **change)
                body = {k: v for k, v in body.items() if v is not None}
                self.assert_error(srv.post("/api/users", body), 400, code)
            self.assert_error(srv.post("/api/users", "{nope",
                                       headers={"Content-Type": "application/json"}),
                              400, "bad_json")
            self.assertEqual([u["name"] for u in srv.get_json("/api/users")["users"]],
                             [ADMIN_USER])

            user = self.assert_ok(srv.post("/api/users", good), 201)
            self.assertEqual(set(user), {"name", "role", "disabled", "created_at",
                                         "password_changed_at"})
            self.assertEqual((user["name"], user["role"], user["disabled"]),
                             ("ana", "operator", False))
            for taken in ("ana", "ANA", ADMIN_USER):
                self.assert_error(srv.post("/api/users", dict(good, name=taken)), 409, "exists")
            r = srv.get("/api/users")
            self.assertEqual(sorted(u["name"] for u in r.json["users"]), ["ana", ADMIN_USER])
            self.assertNotIn("argon2", r.body.decode())
            self.assertNotIn("password_hash", r.body.decode())
            self.assert_ok(self.login(srv, "ana", LONG_PASSWORD))

    def test_an_admin_cannot_disable_or_demote_themselves(self):
        self.write_auth_config()
        pw = self.make_user("ada", "admin")
        with self.serve() as srv:
            ada = self.session(srv, "ada", pw)
            for client, name in ((srv, ADMIN_USER), (ada, "ada")):
                path = "/api/users/" + name
                for body in ({"disabled": True}, {"role": "operator"}, {"role": "viewer"},
                             {"role": "viewer", "disabled": False}):
                    self.assert_error(client.request("PATCH", path, body), 409, "self")
                self.assertEqual(self.assert_ok(client.request("PATCH", path,
                                                               {"role": "admin"}))["role"],
                                 "admin")
            self.assertEqual({(u["name"], u["role"], u["disabled"])
                              for u in srv.get_json("/api/users")["users"]},
                             {("ada", "admin", False), (ADMIN_USER, "admin", False)})
            # Another admin can.
            self.assertEqual(self.assert_ok(srv.request("PATCH", "/api/users/ada",
                                                        {"role": "operator"}))["role"],
                             "operator")
            self.assert_error(ada.get("/api/users"), 403, "forbidden")
            self.assert_ok(srv.request("PATCH", "/api/users/ada", {"disabled": True}))
            self.assert_error(ada.get("/api/me"), 401, "unauthorized")

            self.assert_error(srv.request("PATCH", "/api/users/nobody", {"role": "viewer"}),
                              404, "not_found")
            for body in ({}, {"disabled": "yes"}, {"role": "root"}, {"password": "short"}):
                self.assert_error(srv.request("PATCH", "/api/users/ada", body), 400,
                                  "bad_parameter")

    def test_a_new_token_is_shown_once_and_never_listed(self):
        self.write_auth_config()
        self.make_user("ana", "operator")
        with self.serve() as srv:
            r = srv.post("/api/tokens", {"user": "ana", "name": "ci"})
            made = self.assert_ok(r, 201)
            self.assertEqual(set(made), {"id", "user", "name", "token", "message"}, mask(made))
            self.assertEqual((made["user"], made["name"]), ("ana", "ci"))
            self.assertRegex(made["token"], r"^fy_[A-Za-z0-9_-]{43}$")
            token = Bearer(srv, made["token"])
            me = self.assert_ok(token.get("/api/me"))
            self.assert_same(me, {"user": {"name": "ana", "role": "operator"}, "auth": "token",
                                  "token": {"id": made["id"], "name": "ci"}}, "GET /api/me")

            r = srv.get("/api/tokens")
            listed = {t["id"]: t for t in self.assert_ok(r)["tokens"]}
            self.assert_absent(made["token"], r.body.decode(), "the token, in GET /api/tokens,")
            self.assert_absent(made["token"][3:], r.body.decode(),
                               "the token, in GET /api/tokens,")
            for t in listed.values():
                self.assertEqual(set(t), {"id", "user", "name", "created_at", "last_used_at",
                                          "revoked_at"})
            self.assertEqual((listed[made["id"]]["user"], listed[made["id"]]["name"],
                              listed[made["id"]]["revoked_at"]), ("ana", "ci", None))
            self.assertIsNotNone(listed[made["id"]]["last_used_at"])

            default = self.assert_ok(srv.post("/api/tokens", {"user": "ana"}), 201)
            self.assertEqual(default["name"], "api")
            self.assert_differs(default["token"], made["token"], "two new tokens")
            self.assert_error(srv.post("/api/tokens", {"user": "nobody"}), 404, "not_found")
            self.assert_error(srv.post("/api/tokens", {"user": "ana", "name": ""}), 400,
                              "bad_parameter")
            self.assert_error(srv.post("/api/tokens", {"name": "x"}), 400, "bad_parameter")

            self.assert_ok(srv.request("DELETE", "/api/tokens/%d" % made["id"]))
            self.assert_error(token.get("/api/me"), 401, "unauthorized")
            revoked = {t["id"]: t for t in srv.get_json("/api/tokens")["tokens"]}[made["id"]]
            self.assertIsNotNone(revoked["revoked_at"])
            self.assert_error(srv.request("DELETE", "/api/tokens/%d" % made["id"]), 404,
                              "not_found")
            self.assert_error(srv.request("DELETE", "/api/tokens/999"), 404, "not_found")
            self.assert_ok(Bearer(srv, default["token"]).get("/api/me"))
        self.assert_no_secrets(srv, {"the token": made["token"], "the other": default["token"]})


# ---- 9. metrics_token ----

class MetricsTokenTest(AuthTestCase):
    def check_metrics_guarded(self, srv, metrics_token, viewer_pw, viewer_token):
        r = srv.get("/metrics", auth=False)
        self.assert_error(r, 401, "unauthorized")
        r = srv.get("/metrics", headers=auth_headers(metrics_token), auth=False)
        self.assertEqual(r.status, 200, r.status)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"))
        self.assertIn(b"ferry_http_requests_total", r.body)
        self.assertEqual(Bearer(srv, viewer_token).get("/metrics").status, 200)
        self.assertEqual(self.session(srv, "vera", viewer_pw).get("/metrics").status, 200)
        self.assert_error(Bearer(srv, "not-the-metrics-token-at-all").get("/metrics"), 401,
                          "unauthorized")
        self.assert_error(Bearer(srv, metrics_token + "x").get("/metrics"), 401,
                          "unauthorized")
        self.assert_error(srv.get("/metrics?access_token=" + metrics_token, auth=False), 401,
                          "unauthorized")
        # It opens /metrics only: it is no user.
        self.assert_error(Bearer(srv, metrics_token).get("/api/syncs"), 401, "unauthorized")
        self.assertEqual(srv.get("/healthz", auth=False).status, 200)

    def test_metrics_token_guards_metrics(self):
        metrics_token = "metrics-" + secrets.token_hex(12)
        self.write_auth_config(metrics_token=metrics_token)
        pw = self.make_user("vera", "viewer")
        viewer_token = self.make_token("vera", "dash")
        with self.serve() as srv:
            self.check_metrics_guarded(srv, metrics_token, pw, viewer_token)
        self.assert_no_secrets(srv, {"metrics_token": metrics_token})

    def test_metrics_token_from_the_environment(self):
        metrics_token = "env-metrics-" + secrets.token_hex(12)
        os.environ["FERRY_IT_METRICS_TOKEN"] = metrics_token
        self.addCleanup(os.environ.pop, "FERRY_IT_METRICS_TOKEN", None)
        self.write_auth_config(metrics_token="${FERRY_IT_METRICS_TOKEN}")
        pw = self.make_user("vera", "viewer")
        viewer_token = self.make_token("vera", "dash")
        with self.serve() as srv:
            self.check_metrics_guarded(srv, metrics_token, pw, viewer_token)
            self.assert_error(Bearer(srv, "${FERRY_IT_METRICS_TOKEN}").get("/metrics"), 401,
                              "unauthorized")
        self.assert_no_secrets(srv, {"metrics_token": metrics_token})

    def test_without_metrics_token_metrics_are_open(self):
        self.write_auth_config()
        with self.serve() as srv:
            r = srv.get("/metrics", auth=False)
            self.assertEqual(r.status, 200, r.status)
            self.assertIn(b"ferry_http_requests_total", r.body)
            self.assertEqual(Bearer(srv, "fy_not-a-token").get("/metrics").status, 200)


# ---- 10. request limits ----

class LimitsTest(AuthTestCase):
    def head(self, srv, request_line, *headers, auth=True):
        lines = [request_line, "Host: 127.0.0.1"] + list(headers)
        if auth:
            lines.append("Authorization: Bearer " + srv.token)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def test_a_body_announced_over_max_body_is_refused_before_it_is_read(self):
        self.write_auth_config(max_body="4KiB")
        self.make_user("vera", "viewer")
        with self.serve() as srv:
            # The body is never sent: the answer must come from the headers alone.
            for path, auth in (("/api/syncs/t/runs", True), ("/api/login", False),
                               ("/api/users", True)):
                data, _, took = raw_exchange(srv.port, self.head(
                    srv, "POST %s HTTP/1.1" % path, "Content-Type: application/json",
                    "Content-Length: 4097", auth=auth) + b'{"a": ', timeout=5)
                r = ferrytest.ApiResponse.parse(data)
                self.assert_error(r, 413, "too_large")
                self.assertLess(took, 3, "the 413 waited for the body")
            # Without credentials the gate refuses first, also before the body.
            data, _, took = raw_exchange(srv.port, self.head(
                srv, "POST /api/syncs/t/runs HTTP/1.1", "Content-Length: 100000000",
                auth=False), timeout=5)
            self.assert_error(ferrytest.ApiResponse.parse(data), 401, "unauthorized")
            self.assertLess(took, 3)
            # So are the gate's other refusals: 404, 405, 403 (a viewer adding a user).
            viewer = self.make_token("vera", "dash")
            for request_line, auth_line, status, code in (
                    ("POST /api/nope HTTP/1.1", None, 404, "not_found"),
                    ("PUT /api/users HTTP/1.1", None, 405, "method_not_allowed"),
                    ("POST /api/users HTTP/1.1", "Authorization: Bearer " + viewer, 403,
                     "forbidden")):
                extra = [auth_line] if auth_line else []
                data, _, took = raw_exchange(srv.port, self.head(
                    srv, request_line, "Content-Type: application/json",
                    "Content-Length: 100000000", *extra, auth=False), timeout=5)
                self.assert_error(ferrytest.ApiResponse.parse(data), status, code)
                self.assertLess(took, 3)
            # max_body itself is fine: an empty object padded with blanks to 4096 bytes.
            body = "{" + " " * 4094 + "}"
            self.assert_ok(srv.post("/api/syncs/t/runs", body,
                                    headers={"Content-Type": "application/json"}), 202)
            r = srv.post("/api/syncs/t/runs", body + " ",
                         headers={"Content-Type": "application/json"})
            self.assert_error(r, 413, "too_large")
            self.assertEqual(srv.get("/healthz").status, 200)

    def test_request_headers_over_32_kib_are_refused_with_431(self):
        self.write_auth_config()
        with self.serve() as srv:
            # 30 KiB of headers pass (with the token, so the answer is the route's).
            data, _, _ = raw_exchange(srv.port, self.head(
                srv, "GET /api/me HTTP/1.1", "X-Big: " + "a" * (30 * 1024),
                "Connection: close"))
            self.assertEqual(ferrytest.ApiResponse.parse(data).status, 200, data[:200])
            for size in (33 * 1024, 64 * 1024, 1024 * 1024):
                data, closed, took = raw_exchange(srv.port, self.head(
                    srv, "GET /api/me HTTP/1.1", "X-Big: " + "a" * size))
                # libmicrohttpd answers 431 and closes the connection.
                self.assertTrue(data.startswith(b"HTTP/1.1 431 "), (size, data[:200]))
                self.assertTrue(closed, "the connection stayed open after the 431")
                self.assertLess(took, 3)
            # In many headers, as a big cookie, without credentials: the same.
            many = ["X-H%d: %s" % (i, "b" * 1000) for i in range(40)]
            data, closed, _ = raw_exchange(srv.port, self.head(srv, "GET /api/me HTTP/1.1",
                                                               *many, auth=False))
            self.assertTrue(data.startswith(b"HTTP/1.1 431 ") and closed, data[:200])
            data, closed, _ = raw_exchange(srv.port, self.head(
                srv, "GET /healthz HTTP/1.1", "Cookie: %s=%s" % (COOKIE, "c" * 40000),
                auth=False))
            self.assertTrue(data.startswith(b"HTTP/1.1 431 ") and closed, data[:200])
            self.assertEqual(srv.get("/healthz").status, 200)

    # The 431 is libmicrohttpd's own answer, written before Ferry sees the request: HTML, as
    # docs/api.md says. What matters is the status and that nothing else comes back.
    def test_the_431_answer_is_libmicrohttpds_and_carries_nothing_of_ferry(self):
        self.write_auth_config()
        with self.serve() as srv:
            data, _, _ = raw_exchange(srv.port, self.head(
                srv, "GET /api/me HTTP/1.1", "X-Big: " + "a" * (40 * 1024)))
            r = ferrytest.ApiResponse.parse(data)
            self.assertEqual(r.status, 431)
            self.assertNotEqual(r.header("Content-Type"), "application/json", data[:300])

    def test_unknown_routes_are_404_and_wrong_methods_405_without_credentials(self):
        self.write_auth_config()
        with self.serve() as srv:
            for method, path in (("GET", "/nope.html"), ("GET", "/nope"), ("GET", "/api"),
                                 ("GET", "/api/nope"), ("POST", "/api/nope"),
                                 ("GET", "/api/users/x/y"), ("DELETE", "/api/tokens/abc"),
                                 ("DELETE", "/api/tokens/0"), ("GET", "/api/me/x"),
                                 ("GET", "/metrics/x"), ("POST", "/api/login/x")):
                r = srv.request(method, path, auth=False)
                self.assert_error(r, 404, "not_found")
                self.assertIsNone(r.header("WWW-Authenticate"))
            for method, path, allow in (("DELETE", "/api/users", "GET, POST"),
                                        ("PUT", "/api/users/ana", "PATCH"),
                                        ("GET", "/api/users/ana", "PATCH"),
                                        ("GET", "/api/tokens/1", "DELETE"),
                                        ("PATCH", "/api/tokens", "GET, POST"),
                                        ("POST", "/api/audit", "GET"),
                                        ("GET", "/api/login", "POST"),
                                        ("GET", "/api/logout", "POST"),
                                        ("POST", "/api/me", "GET"),
                                        ("GET", "/api/me/password", "POST"),
                                        ("POST", "/metrics", "GET"),
                                        ("DELETE", "/api/runs/1", "GET")):
                for auth in (False, True):
                    r = srv.request(method, path, auth=auth)
                    self.assert_error(r, 405, "method_not_allowed")
                    self.assertEqual(r.header("Allow"), allow, (method, path))


if __name__ == "__main__":
    ferrytest.main()
