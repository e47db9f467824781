"""OAuth2 for REST sources (`auth: { oauth2: ... }`) against a loopback authorization server.

FakeOAuth2 is a token endpoint (/token) with both grants and an API (/api/records) beside it.
The endpoint checks the client's credentials (HTTP Basic, or client_id and client_secret in
the form), issues access tokens with the expires_in the test sets, and, for the
refresh_token grant, answers each refresh with a new refresh token and revokes the one it was
sent (rotation). The API answers 200 only to a live access token and 401 otherwise; the test
can revoke every access token to make an early expiry.

The secrets (the client secret, every access and refresh token) are checked to appear in
none of ferry's output, its run record and its store, which holds a rotated refresh token only
encrypted with FERRY_STORE_KEY.
"""

import base64
import json
import os
import threading
import unittest
import urllib.parse
from http.server import ThreadingHTTPServer

import ferrytest

CLIENT_ID = "ferry-app"
CLIENT_SECRET = "cs-7d1e0c-very-secret"
STORE_KEY = "5f" * 32
OTHER_KEY = "a0" * 32


class FakeOAuth2:
    """mode: "ok", "html" (500 with an HTML page), "garbage" (200, not JSON), "no_token" (200
    without access_token). api_mode: "ok", or "always401"."""

    def __init__(self):
        self.lock = threading.Lock()
        self.mode = "ok"
        self.api_mode = "ok"
        self.expires_in = 3600
        self.rotate = True
        self.n = 0
        self.access = set()       # live access tokens
        self.refresh = {"rt-0"}   # live refresh tokens
        self.issued = []          # every token handed out (access and refresh)
        self.token_forms = []     # the forms POSTed to /token
        self.token_basic = []     # the Basic credentials sent to /token, or None
        self.api_auth = []        # (Authorization, status) the API saw
        fake = self

        class Handler(ferrytest.QuietHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in
                        urllib.parse.parse_qs(self.rfile.read(n).decode()).items()}
                status, body, ctype = fake.token(form, self.headers.get("Authorization"))
                self.reply(status, body, ctype)

            def do_GET(self):
                auth = self.headers.get("Authorization")
                with fake.lock:
                    live = (auth or "").startswith("Bearer ") and auth[7:] in fake.access
                    ok = live and fake.api_mode == "ok"
                    fake.api_auth.append((auth, 200 if ok else 401))
                if not ok:
                    return self.reply(401, json.dumps({"error": "invalid_token"}))
                self.reply(200, json.dumps({"records": [{"id": 1, "name": "Ana"},
                                                        {"id": 2, "name": "Bo"}]}))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def new(self, prefix):
        self.n += 1
        token = "%s-%d-%s" % (prefix, self.n, os.urandom(6).hex())
        self.issued.append(token)
        return token

    def token(self, form, authorization):
        """(status, body, content type) for a token request."""
        with self.lock:
            self.token_forms.append(form)
            basic = None
            if authorization and authorization.startswith("Basic "):
                user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
                basic = (urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password))
            self.token_basic.append(basic)
            if self.mode == "html":
                return 500, "<html><body>Internal Server Error</body></html>", "text/html"
            if self.mode == "garbage":
                return 200, "access_token=abc&expires_in=3600", "text/plain"
            client = basic or (form.get("client_id"), form.get("client_secret"))
            if client[0] != CLIENT_ID or client[1] not in (CLIENT_SECRET, None):
                return 401, json.dumps({"error": "invalid_client",
                                        "error_description": "Client authentication failed"}), \
                    "application/json"
            answer = {"token_type": "Bearer", "expires_in": self.expires_in}
            grant = form.get("grant_type")
            if grant == "client_credentials":
                if client[1] is None:
                    return 401, json.dumps({"error": "invalid_client"}), "application/json"
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self.refresh:
                    return 400, json.dumps({"error": "invalid_grant",
                                            "error_description": "Refresh token is expired or "
                                                                 "revoked"}), \
                        "application/json"
                if self.rotate:
                    self.refresh.discard(form["refresh_token"])
                    answer["refresh_token"] = self.new("rt")
                    self.refresh.add(answer["refresh_token"])
            else:
                return 400, json.dumps({"error": "unsupported_grant_type"}), "application/json"
            if self.mode == "no_token":
                return 200, json.dumps({"token_type": "Bearer"}), "application/json"
            answer["access_token"] = self.new("at")
            self.access.add(answer["access_token"])
            return 200, json.dumps(answer), "application/json"

    def revoke_access(self):
        with self.lock:
            self.access.clear()

    def refresh_sent(self):
        return [f.get("refresh_token") for f in self.token_forms]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class OAuth2Test(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.oauth = FakeOAuth2()
        self.addCleanup(self.oauth.stop)
        # serve() starts ferry with this process's environment.
        for name, value in (("FERRY_TEST_CLIENT_SECRET", CLIENT_SECRET),
                            ("FERRY_TEST_REFRESH", "rt-0"), ("FERRY_STORE_KEY", STORE_KEY)):
            old = os.environ.get(name)
            os.environ[name] = value
            self.addCleanup(lambda n=name, o=old: os.environ.pop(n) if o is None
                            else os.environ.__setitem__(n, o))

    def use(self, oauth2, top="", tenant=""):
        self.write_config(
            top +
            "database: sqlite:ferry.db\n"
            "allow_private: true\n"
            "syncs:\n"
            "  people:\n" + tenant +
            "    source:\n"
            "      kind: rest\n"
            '      url: "http://127.0.0.1:%d/api/records"\n' % self.oauth.port +
            "      records: /records\n"
            "      retry_backoff: 100ms\n"
            "      auth:\n"
            "        oauth2:\n"
            '          token_url: "http://127.0.0.1:%d/token"\n' % self.oauth.port +
            "          client_id: %s\n" % CLIENT_ID +
            "".join("          %s\n" % line for line in oauth2) +
            "    target: { table: people, key: [id] }\n"
            "    fields:\n"
            "      id: { type: integer }\n"
            "      name:\n")

    def use_client_credentials(self, *more):
        self.use(["client_secret_env: FERRY_TEST_CLIENT_SECRET", "scope: records.read"]
                 + list(more))

    def use_refresh(self, *more, top=""):
        self.use(["grant: refresh_token", "refresh_token_env: FERRY_TEST_REFRESH",
                  "client_secret_env: FERRY_TEST_CLIENT_SECRET"] + list(more), top=top)

    def sync_people(self, expect, env=None):
        code, out, err = self.run_ferry("sync", "people", env=env)
        self.assertEqual(code, expect, "stdout:\n%s\nstderr:\n%s" % (out, err))
        return out + err

    def store_text(self):
        """Everything Ferry's store holds, as text: the SQLite file's bytes, or on PostgreSQL
        its secrets and runs."""
        if ferrytest.ON_POSTGRES:
            return repr(self.query("SELECT name, sealed FROM ferry_secrets")) + \
                repr(self.query("SELECT * FROM ferry_runs"))
        text = ""
        for suffix in ("", "-wal"):
            if os.path.exists(self.db_path + suffix):
                with open(self.db_path + suffix, "rb") as f:
                    text += f.read().decode("latin-1")
        return text

    def assert_secrets_absent(self, text):
        for secret in [CLIENT_SECRET, STORE_KEY, OTHER_KEY] + self.oauth.issued:
            self.assertNotIn(secret, text)

    def test_client_credentials_are_sent_with_basic_and_the_token_as_the_bearer(self):
        self.use_client_credentials()
        out = self.sync_people(0)
        self.assertEqual(self.oauth.token_basic, [(CLIENT_ID, CLIENT_SECRET)])
        self.assertEqual(self.oauth.token_forms, [{"grant_type": "client_credentials",
                                                   "scope": "records.read"}])
        self.assertEqual(self.oauth.api_auth, [("Bearer " + self.oauth.issued[0], 200)])
        self.assertEqual(self.query("SELECT id, name FROM people ORDER BY id"),
                         [(1, "Ana"), (2, "Bo")])
        code, show, err = self.run_ferry("show", "1")
        self.assert_secrets_absent(out + show + err + self.store_text())

    def test_client_auth_body_sends_the_credentials_in_the_form(self):
        self.use_client_credentials("client_auth: body")
        self.sync_people(0)
        self.assertEqual(self.oauth.token_basic, [None])
        self.assertEqual(self.oauth.token_forms[0]["client_id"], CLIENT_ID)
        self.assertEqual(self.oauth.token_forms[0]["client_secret"], CLIENT_SECRET)

    def test_runs_share_a_token_until_it_expires(self):
        self.use_client_credentials()
        with self.serve() as srv:
            srv.run_to_end("people")
            srv.run_to_end("people")
        self.assertEqual(len(self.oauth.token_forms), 1)
        # A token that lives less than the minute kept in hand is asked for at every run.
        self.oauth.expires_in = 30
        with self.serve() as srv:
            srv.run_to_end("people")
            srv.run_to_end("people")
        self.assertEqual(len(self.oauth.token_forms), 3)

    def test_a_401_fetches_a_new_token_once_and_retries(self):
        self.use_client_credentials()
        with self.serve() as srv:
            srv.run_to_end("people")
            self.oauth.revoke_access()
            srv.run_to_end("people")
            self.assertEqual(len(self.oauth.token_forms), 2)
            self.assertEqual([s for _, s in self.oauth.api_auth], [200, 401, 200])
            self.assertEqual(self.oauth.api_auth[2][0], "Bearer " + self.oauth.issued[1])
            self.assert_secrets_absent(srv.stderr_text())

    def test_a_second_401_fails_the_run(self):
        self.use_client_credentials()
        self.oauth.api_mode = "always401"
        out = self.sync_people(1)
        self.assertIn("answered HTTP 401 on page 1 to a new access token too", out)
        self.assertEqual(len(self.oauth.token_forms), 2)
        self.assertEqual(len(self.oauth.api_auth), 2)
        self.assertFalse(self.table_exists("people"))
        self.assert_secrets_absent(out)

    def test_a_refused_client_secret_names_the_endpoint_and_its_error(self):
        self.use_client_credentials()
        out = self.sync_people(1, env={"FERRY_TEST_CLIENT_SECRET": "wrong-secret-value"})
        self.assertIn("the token endpoint http://127.0.0.1:%d/token refused the client ID %s: "
                      "invalid_client: Client authentication failed" % (self.oauth.port,
                                                                        CLIENT_ID), out)
        self.assertNotIn("wrong-secret-value", out)
        self.assertEqual(self.oauth.api_auth, [])
        self.assertFalse(self.table_exists("people"))
        code, out, err = self.run_ferry("check", "people",
                                        env={"FERRY_TEST_CLIENT_SECRET": "wrong-secret-value"})
        self.assertNotEqual(code, 0)
        self.assertIn("people: reachable, credentials rejected", out)
        self.assertIn("invalid_client", out)
        self.assertNotIn("wrong-secret-value", out + err)
        os.environ["FERRY_TEST_CLIENT_SECRET"] = "wrong-secret-value"
        with self.serve() as srv:
            check = srv.get_json("/api/syncs/people/check")
            self.assertEqual((check["reachable"], check["auth_accepted"], check["status"],
                              check["credentials_read"], check["ok"]),
                             (True, False, None, True, False))
            self.assertIn("invalid_client: Client authentication failed", check["error"])
            self.assertNotIn("wrong-secret-value", json.dumps(check) + srv.stderr_text())

    def test_check_fetches_a_token(self):
        self.use_client_credentials()
        code, out, err = self.run_ferry("check", "people")
        self.assertEqual(code, 0, out + err)
        self.assertIn("people: reachable, credentials accepted (HTTP 200", out)
        self.assertEqual(len(self.oauth.token_forms), 1)
        self.assert_secrets_absent(out + err)

    def test_a_token_endpoint_answering_html_garbage_or_no_token_is_named(self):
        self.use_client_credentials()
        self.oauth.mode = "html"
        out = self.sync_people(1)
        self.assertIn("refused the client ID ferry-app: HTTP 500, not a token answer (text/html)",
                      out)
        self.oauth.mode = "garbage"
        out = self.sync_people(1)
        self.assertIn("answered HTTP 200 for the client ID ferry-app with text/plain that is not "
                      "a JSON object", out)
        self.oauth.mode = "no_token"
        out = self.sync_people(1)
        self.assertIn("answered HTTP 200 without an access token", out)
        self.assertEqual(self.oauth.api_auth, [])
        self.assertFalse(self.table_exists("people"))

    def test_a_rotated_refresh_token_is_kept_encrypted_and_used_after_a_restart(self):
        self.use_refresh()
        out = self.sync_people(0)
        self.assertEqual(self.oauth.refresh_sent(), ["rt-0"])
        rotated = self.oauth.issued[0]
        self.assertTrue(rotated.startswith("rt-"))
        self.assertNotIn("rt-0", self.oauth.refresh)  # revoked: only the kept one works now
        self.assert_secrets_absent(out + self.store_text())
        self.assertEqual(len(self.query("SELECT name FROM ferry_secrets")), 1)
        # Another process (a server this time) reads the rotated token from the store.
        with self.serve() as srv:
            srv.run_to_end("people")
            self.assert_secrets_absent(srv.stderr_text())
        self.assertEqual(self.oauth.refresh_sent(), ["rt-0", rotated])
        self.assert_secrets_absent(self.store_text())
        # And the next process the one that server kept.
        self.sync_people(0)
        self.assertEqual(self.oauth.refresh_sent()[2], self.oauth.issued[2])

    def test_a_check_keeps_the_token_it_rotated(self):
        self.use_refresh()
        code, out, err = self.run_ferry("check", "people")
        self.assertEqual(code, 0, out + err)
        self.assertIn("credentials accepted", out)
        self.assertNotIn("rt-0", self.oauth.refresh)
        self.sync_people(0)
        self.assertEqual(self.oauth.refresh_sent(), ["rt-0", self.oauth.issued[0]])
        self.assert_secrets_absent(out + err + self.store_text())

    def test_a_new_configured_refresh_token_wins_over_the_kept_one(self):
        self.use_refresh()
        self.sync_people(0)
        kept = self.oauth.issued[0]
        # The kept token is revoked elsewhere; a person authorizes Ferry again and puts the
        # new refresh token in the variable.
        self.oauth.refresh = {"rt-reauthorized"}
        out = self.sync_people(1)
        self.assertIn("invalid_grant", out)
        self.assertEqual(self.oauth.refresh_sent()[-1], kept)
        self.sync_people(0, env={"FERRY_TEST_REFRESH": "rt-reauthorized"})
        self.assertEqual(self.oauth.refresh_sent()[-1], "rt-reauthorized")
        rotated = self.oauth.issued[-2]
        # From then on the token rotated from the new one is used.
        self.sync_people(0, env={"FERRY_TEST_REFRESH": "rt-reauthorized"})
        self.assertEqual(self.oauth.refresh_sent()[-1], rotated)

    def test_each_tenant_has_its_own_refresh_token(self):
        self.use(["grant: refresh_token", "refresh_token_env: FERRY_TEST_REFRESH_{org}",
                  "client_secret_env: FERRY_TEST_CLIENT_SECRET"],
                 tenant="    tenant: { variable: org, column: org_id, values: [a, b] }\n")
        self.oauth.refresh = {"rt-a", "rt-b"}
        env = {"FERRY_TEST_REFRESH_a": "rt-a", "FERRY_TEST_REFRESH_b": "rt-b"}
        for tenant in ("a", "b", "a", "b"):
            code, out, err = self.run_ferry("sync", "people", "--tenant", tenant, env=env)
            self.assertEqual(code, 0, out + err)
        sent = self.oauth.refresh_sent()
        self.assertEqual(sent[:2], ["rt-a", "rt-b"])
        # Each tenant's second run used the token rotated from its own.
        self.assertEqual(sent[2:], [self.oauth.issued[0], self.oauth.issued[2]])
        self.assertEqual(len(self.query("SELECT name FROM ferry_secrets")), 2)
        self.assertEqual(self.query("SELECT org_id, count(*) FROM people GROUP BY org_id "
                                    "ORDER BY org_id"), [("a", 2), ("b", 2)])

    def test_the_steps_of_a_sync_share_one_authorization(self):
        step = """\
      %(name)s:
        source:
          kind: rest
          url: "http://127.0.0.1:%(port)d/api/records"
          records: /records
          auth:
            oauth2:
              token_url: "http://127.0.0.1:%(port)d/token"
              client_id: ferry-app
              client_secret_env: FERRY_TEST_CLIENT_SECRET
              grant: refresh_token
              refresh_token_env: FERRY_TEST_REFRESH
        target: { table: %(name)s, key: [id] }
        fields:
          id: { type: integer }
          name:
"""
        self.write_config("database: sqlite:ferry.db\nallow_private: true\nsyncs:\n"
                          "  both:\n    steps:\n" +
                          "".join(step % {"name": n, "port": self.oauth.port}
                                  for n in ("people", "others")))
        for _ in range(2):
            code, out, err = self.run_ferry("sync", "both")
            self.assertEqual(code, 0, out + err)
        # One refresh per run, the second with the token the first rotated.
        self.assertEqual(self.oauth.refresh_sent(), ["rt-0", self.oauth.issued[0]])
        self.assertEqual(len(self.query("SELECT name FROM ferry_secrets")), 1)
        self.assertEqual(self.query("SELECT count(*) FROM others"), [(2,)])

    def test_an_expired_refresh_token_says_so(self):
        self.use_refresh()
        out = self.sync_people(1, env={"FERRY_TEST_REFRESH": "rt-expired"})
        self.assertIn("invalid_grant: Refresh token is expired or revoked", out)
        self.assertIn("expired or been revoked", out)
        self.assertNotIn("rt-expired", out)
        self.assertFalse(self.table_exists("people"))

    def test_a_refresh_grant_without_the_store_key_is_refused(self):
        self.use_refresh()
        out = self.sync_people(1, env={"FERRY_STORE_KEY": None})
        self.assertIn("the environment variable FERRY_STORE_KEY, which is not set", out)
        code, out, err = self.run_ferry("check", "people", env={"FERRY_STORE_KEY": None})
        self.assertNotEqual(code, 0)
        self.assertIn("FERRY_STORE_KEY, which is not set", out + err)
        # The config's own check says so too, before any server is asked.
        code, out, err = self.run_ferry("check", env={"FERRY_STORE_KEY": None})
        self.assertEqual(code, 2, out + err)
        self.assertIn("sync people: oauth2 grant refresh_token: the store key is read from the "
                      "environment variable FERRY_STORE_KEY, which is not set", err)
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 0, out + err)
        out = self.sync_people(1, env={"FERRY_STORE_KEY": "abc123"})
        self.assertIn("the environment variable FERRY_STORE_KEY does not hold a store key", out)
        self.assertNotIn("abc123", out)
        self.assertEqual(self.oauth.token_forms, [])

    def test_the_key_variable_is_named_by_store_key_env(self):
        self.use_refresh(top="store_key_env: FERRY_TEST_VAULT_KEY\n")
        out = self.sync_people(1)
        self.assertIn("FERRY_TEST_VAULT_KEY, which is not set", out)
        self.sync_people(0, env={"FERRY_TEST_VAULT_KEY": OTHER_KEY})

    def test_a_kept_token_under_another_key_is_an_error_naming_the_variable(self):
        self.use_refresh()
        self.sync_people(0)
        out = self.sync_people(1, env={"FERRY_STORE_KEY": OTHER_KEY})
        self.assertIn("does not decrypt with the key in the environment variable "
                      "FERRY_STORE_KEY", out)
        self.assert_secrets_absent(out)
        self.assertEqual(len(self.oauth.token_forms), 1)

    def test_secrets_are_not_written_in_the_config(self):
        self.use(["client_secret: abc"])
        code, out, err = self.run_ferry("check")
        self.assertNotEqual(code, 0)
        self.assertIn("secrets are not written in the config", out + err)
        self.use(["grant: refresh_token", "client_secret_env: X"])
        code, out, err = self.run_ferry("check")
        self.assertIn("grant refresh_token needs refresh_token_env or refresh_token_file",
                      out + err)


if __name__ == "__main__":
    unittest.main()
