"""Google service accounts (`auth: { google_service_account: ... }`) against loopback fakes.

The test makes an RSA key pair with the `openssl` command and writes a service-account key
file whose token_uri is a fake of Google's token endpoint. That fake verifies each assertion's
RS256 signature with the public half (`openssl dgst -sha256 -verify`), checks iss, aud, scope,
iat and exp, and answers an access token; the fake API beside it answers 200 only with that
token as the bearer and 403 otherwise. Errors are checked by the fragments docs/sources.md
names: the file, "not a service-account key", the account's e-mail, the endpoint's error
text, "share it with".
"""

import base64
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import ThreadingHTTPServer

import ferrytest

EMAIL = "ferry-sync@example-project.iam.gserviceaccount.com"
DEFAULT_SCOPE = ("https://www.googleapis.com/auth/spreadsheets.readonly "
                 "https://www.googleapis.com/auth/drive.readonly")
TOKEN = "ya29.test-access-token-7f3a"


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class FakeGoogle:
    """A token endpoint (/token) and an API (/rows) on 127.0.0.1. mode: "ok", "refuse"
    (400 invalid_grant), "html" (500 with an HTML page)."""

    def __init__(self, public_pem_path):
        self.public_pem = public_pem_path
        self.mode = "ok"
        self.token_requests = 0
        self.claims = []          # the verified assertions' claims
        self.bad = []             # why an assertion was refused
        self.api_auth = []        # Authorization headers the API got
        self.api_status = 200
        fake = self

        class Handler(ferrytest.QuietHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                fake.token_requests += 1
                if fake.mode == "html":
                    return self.reply(500, "<html><body>Server Error</body></html>", "text/html")
                if fake.mode == "refuse":
                    return self.reply(400, json.dumps({
                        "error": "invalid_grant",
                        "error_description": "Invalid JWT Signature."}))
                why = fake.verify(form, "http://127.0.0.1:%d/token" % fake.port)
                if why:
                    fake.bad.append(why)
                    return self.reply(400, json.dumps({"error": "invalid_grant",
                                                       "error_description": why}))
                self.reply(200, json.dumps({"access_token": TOKEN, "expires_in": 3599,
                                            "token_type": "Bearer"}))

            def do_GET(self):
                auth = self.headers.get("Authorization")
                fake.api_auth.append(auth)
                if auth != "Bearer " + TOKEN:
                    return self.reply(403, json.dumps({"error": "forbidden"}))
                if fake.api_status != 200:
                    return self.reply(fake.api_status, json.dumps({"error": "no"}))
                if self.path.startswith("/spreadsheets/d/abc/export"):
                    return self.reply(200, "id,name\n1,Ana\n2,Bo\n", "text/csv")
                self.reply(200, json.dumps({"rows": [{"id": 1, "name": "Ana"},
                                                     {"id": 2, "name": "Bo"}]}))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def verify(self, form, token_uri):
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return "grant_type %r" % form.get("grant_type")
        parts = form.get("assertion", [""])[0].split(".")
        if len(parts) != 3:
            return "not a JWT"
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        if header != {"alg": "RS256", "typ": "JWT"}:
            return "header %r" % header
        with tempfile.TemporaryDirectory() as d:
            signed = os.path.join(d, "signed")
            sig = os.path.join(d, "sig")
            with open(signed, "wb") as f:
                f.write((parts[0] + "." + parts[1]).encode())
            with open(sig, "wb") as f:
                f.write(b64url_decode(parts[2]))
            p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", self.public_pem,
                                "-signature", sig, signed], capture_output=True, timeout=30)
            if p.returncode != 0:
                return "signature does not verify"
        now = time.time()
        if claims.get("iss") != EMAIL or claims.get("aud") != token_uri:
            return "iss/aud %r" % claims
        if not (now - 600 <= claims.get("iat", 0) <= now + 600):
            return "iat %r" % claims
        if not (claims["iat"] < claims.get("exp", 0) <= claims["iat"] + 3600):
            return "exp %r" % claims
        self.claims.append(claims)
        return None

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class GoogleServiceAccountTest(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.private_pem = self.path("private.pem")
        public_pem = self.path("public.pem")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", self.private_pem],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(["openssl", "pkey", "-in", self.private_pem, "-pubout", "-out", public_pem],
                       check=True, capture_output=True, timeout=60)
        self.google = FakeGoogle(public_pem)
        self.addCleanup(self.google.stop)
        with open(self.private_pem) as f:
            self.pem_text = f.read()

    def key_json(self, **changes):
        key = {"type": "service_account", "project_id": "example-project",
               "private_key_id": "abc123", "private_key": self.pem_text,
               "client_email": EMAIL, "client_id": "1234567890",
               "token_uri": "http://127.0.0.1:%d/token" % self.google.port}
        key.update(changes)
        return json.dumps(key)

    def write_sync(self, source, auth):
        """ferry.yaml with one sync, people, whose source holds source's lines and auth."""
        self.write_config(
            "database: sqlite:ferry.db\n"
            "allow_private: true\n"
            "syncs:\n"
            "  people:\n"
            "    source:\n"
            + "".join("      %s\n" % line for line in source)
            + "      auth: %s\n" % auth
            + "    target: { table: people, key: [id] }\n"
            "    fields:\n"
            "      id: { type: integer }\n"
            "      name:\n")

    def use_sheet(self, auth):
        self.write_sync(['url: "http://127.0.0.1:%d/spreadsheets/d/abc/export?format=csv"'
                         % self.google.port], auth)

    def use(self, auth):
        self.write_sync(["kind: rest", 'url: "http://127.0.0.1:%d/rows"' % self.google.port,
                         "records: /rows", "retry_backoff: 100ms"], auth)

    def sync_people(self, expect, env=None):
        code, out, err = self.run_ferry("sync", "people", env=env)
        self.assertEqual(code, expect, "stdout:\n%s\nstderr:\n%s" % (out, err))
        return out + err

    def assert_secrets_absent(self, text):
        self.assertNotIn(TOKEN, text)
        self.assertNotIn("PRIVATE KEY", text)
        self.assertNotIn(self.pem_text.splitlines()[1][:40], text)

    def test_a_key_file_is_traded_for_a_token_sent_as_the_bearer(self):
        self.write_file("secrets/sa.json", self.key_json())
        self.use("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(0)
        self.assertEqual(self.google.bad, [])
        self.assertEqual(len(self.google.claims), 1)
        self.assertEqual(self.google.claims[0]["scope"], DEFAULT_SCOPE)
        self.assertEqual(self.google.api_auth, ["Bearer " + TOKEN])
        self.assertEqual(self.query("SELECT id, name FROM people ORDER BY id"),
                         [(1, "Ana"), (2, "Bo")])
        self.assert_secrets_absent(out + "".join(self.run_ferry("show", "1")[1:]))

    def test_a_key_from_a_variable_with_its_own_scope(self):
        self.use('{ google_service_account: { key_env: FERRY_TEST_SA, scope: "https://x/s" } }')
        self.sync_people(0, env={"FERRY_TEST_SA": self.key_json()})
        self.assertEqual([c["scope"] for c in self.google.claims], ["https://x/s"])

    def test_a_missing_key_file_is_named(self):
        self.use("{ google_service_account: { key_file: secrets/none.json } }")
        out = self.sync_people(1)
        self.assertIn("none.json", out)
        self.assertIn("cannot be opened", out)
        self.assertEqual(self.google.token_requests, 0)

    def test_a_file_that_is_not_a_service_account_key_is_refused(self):
        self.write_file("secrets/sa.json", "<html>not json</html>")
        self.use("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(1)
        self.assertIn("the key file secrets/sa.json is not a service-account key: not JSON", out)
        self.write_file("secrets/sa.json", self.key_json(type="authorized_user"))
        out = self.sync_people(1)
        self.assertIn('"type" is not "service_account"', out)
        self.assertEqual(self.google.token_requests, 0)
        self.assert_secrets_absent(out)

    def test_a_refused_key_names_the_account_and_the_endpoints_error(self):
        self.google.mode = "refuse"
        self.write_file("secrets/sa.json", self.key_json())
        self.use("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(1)
        self.assertIn(EMAIL, out)
        self.assertIn("invalid_grant: Invalid JWT Signature.", out)
        self.assertEqual(self.google.api_auth, [])
        self.assertFalse(self.table_exists("people"))
        self.assert_secrets_absent(out)

    def test_a_token_endpoint_answering_html_is_an_error(self):
        self.google.mode = "html"
        self.write_file("secrets/sa.json", self.key_json())
        self.use("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(1)
        self.assertIn("HTTP 500, not a token answer (text/html)", out)
        self.assertIn(EMAIL, out)

    def test_a_403_says_to_share_with_the_accounts_email(self):
        self.google.api_status = 404
        self.write_file("secrets/sa.json", self.key_json())
        self.use("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(1)
        self.assertIn("share it with " + EMAIL, out)
        self.assert_secrets_absent(out)

    def test_a_private_sheet_export_is_read_with_the_bearer(self):
        self.write_file("secrets/sa.json", self.key_json())
        self.use_sheet("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(0)
        self.assertEqual(self.google.api_auth, ["Bearer " + TOKEN])
        self.assertEqual(self.query("SELECT id, name FROM people ORDER BY id"),
                         [(1, "Ana"), (2, "Bo")])
        self.assert_secrets_absent(out)

    def test_a_sheet_not_shared_with_the_account_names_its_email(self):
        self.google.api_status = 403
        self.write_file("secrets/sa.json", self.key_json())
        self.use_sheet("{ google_service_account: { key_file: secrets/sa.json } }")
        out = self.sync_people(1)
        self.assertIn("HTTP 403 to the service account %s: share it with %s" % (EMAIL, EMAIL),
                      out)
        self.assert_secrets_absent(out)

    def test_a_csv_source_takes_no_other_auth(self):
        self.use_sheet("{ type: bearer, token_env: T }")
        code, out, err = self.run_ferry("check")
        self.assertNotEqual(code, 0)
        self.assertIn("auth: a CSV source takes only google_service_account", out + err)

    def test_runs_of_one_server_share_the_token(self):
        self.write_file("secrets/sa.json", self.key_json())
        self.use_sheet("{ google_service_account: { key_file: secrets/sa.json } }")
        with self.serve() as srv:
            srv.run_to_end("people")
            srv.run_to_end("people")
        self.assertEqual(self.google.token_requests, 1)
        self.assertEqual(self.google.api_auth, ["Bearer " + TOKEN] * 2)


if __name__ == "__main__":
    unittest.main()
