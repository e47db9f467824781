"""REST sources (`kind: rest`), tenants and `ferry check NAME`, against the fake upstream.

Each test starts the project's fake JSON API (fake_upstream.FakeUpstream: 127.0.0.1, a port
the OS picks, 250 generated records), writes a ferry.yaml as raw YAML pointing at it, runs the
real `ferry`, then checks the run record, the target table row by row and the change rows.
The contract is docs/sources.md; messages are checked by the fragments it names ("credentials
rejected", "loop", "HTML", "page 2", the URL without its query string).

Waits are asserted from below only (a 429's wait, a rate limit), measured on the fake
upstream's request timestamps; retries use retry_backoff: 100ms and timeouts are short, so the
file takes well under a minute.
"""

import base64
import json
import os
import re
import secrets
import textwrap
import time

import ferrytest
from fake_upstream import ALT_HOST, FakeUpstream, encode_cursor, make_records, request_header

N = 250            # records served by default: 3 pages of 100
PATIENTS = "/next_link/patients"

# Every field of the fake records that a sync maps by default, in table column order.
FIELDS = """\
fields:
  id:          { type: integer }
  first_name:  { required: true }
  last_name:
  email:       { type: email }
  city:        { pointer: /address/city }
  labels:      { pointer: /labels, join: ", " }
  archived_at:
  created_at:
"""

# The source keys of each pagination style, for the fake upstream's path of that style.
STYLES = {
    "next_link": (PATIENTS, """\
        query: { per_page: 100 }
        records: /patients
        pagination: { style: next_link, next: /links/next, total: /total_entries }
        """),
    "link_header": ("/link_header/tickets", """\
        query: { per_page: 100 }
        records: ""
        pagination: { style: link_header }
        """),
    "offset": ("/offset/search", """\
        records: /issues
        pagination: { style: offset, offset_param: startAt, limit_param: maxResults,
                      limit: 100, total: /total }
        """),
    "cursor": ("/cursor/search", """\
        query: { maxResults: 100 }
        records: /issues
        pagination: { style: cursor, cursor: /nextPageToken, cursor_param: nextPageToken }
        """),
    "page": ("/page/items", """\
        pagination: { style: page, page_param: page, start: 1, size_param: size, size: 100 }
        """),
}

TENANT = "tenant: { variable: org_id, column: organization_id, values: [org-1, org-2] }"


def expected_row(i, **changes):
    """The table row of generated record i (columns in FIELDS order)."""
    row = {"id": i, "first_name": "First%d" % i, "last_name": "Last%d" % i,
           "email": "user%d@example.com" % i, "city": "City%d" % (i % 50), "labels": "a, b",
           "archived_at": None, "created_at": "2026-01-01T00:00:00Z"}
    row.update(changes)
    return tuple(row.values())


def block(text, indent):
    """text, dedented, then indented by indent spaces ("" for empty text)."""
    text = textwrap.dedent(text).strip("\n")
    return textwrap.indent(text, " " * indent) + "\n" if text else ""


def rest_yaml(url, source="", fields=FIELDS, target="{ table: patients, key: [id] }",
              name="patients", sync_extra=""):
    """A ferry.yaml with one REST sync: source holds the source keys besides kind and url
    (retry_backoff defaults to 100ms), sync_extra sync-level keys (tenant:...)."""
    if "retry_backoff" not in source:
        source = textwrap.dedent(source).strip("\n") + "\nretry_backoff: 100ms\n"
    return ("database: sqlite:ferry.db\n"
            "allow_private: true\n"  # the fake upstream is on loopback
            "syncs:\n"
            "  %s:\n" % name
            + block(sync_extra, 4)
            + "    source:\n"
            "      kind: rest\n"
            '      url: "%s"\n' % url
            + block(source, 6)
            + "    target: %s\n" % target
            + block(fields, 4))


def summary(n, created=0, updated=0, unchanged=0, skipped=0, failed=0, noun="patients"):
    return ("Processed %d %s: %d created, %d updated, %d unchanged, %d skipped, %d failed"
            % (n, noun, created, updated, unchanged, skipped, failed))


class RestTestCase(ferrytest.FerryTestCase):
    def setUp(self):
        super().setUp()
        self.up = FakeUpstream(records=N).start()
        self.addCleanup(self.up.close)

    # -- config --

    def use_style(self, style="next_link", extra="", fields=FIELDS, **kwargs):
        """Writes a config for style's path on the fake upstream, with extra source keys."""
        path, source = STYLES[style]
        source = textwrap.dedent(source) + textwrap.dedent(extra)
        self.write_config(rest_yaml(self.up.url(path), source, fields, **kwargs))
        return path

    def use_tenants(self, extra="", target="{ table: patients, key: [id], on_missing: delete }",
                    fields=None):
        """A tenant sync of next_link pages under /t/{org_id}/; org-1 has records 1-3 and
        org-2 records 1-2 with other names."""
        self.up.set_tenant("org-1", make_records(3))
        second = make_records(2)
        for r in second:
            r["first_name"] = "Second%d" % r["id"]
        self.up.set_tenant("org-2", second)
        url = self.up.base_url + "/t/{org_id}" + PATIENTS
        source = textwrap.dedent(STYLES["next_link"][1]) + textwrap.dedent(extra)
        fields = fields or """\
            fields:
              id:         { type: integer }
              first_name: { required: true }
              email:      { type: email }
            """
        self.write_config(rest_yaml(url, source, fields, target=target, sync_extra=TENANT))

    # -- running --

    def sync_env(self, env, *args, name="patients", expect=0):
        """`ferry sync name args` with env added to ferry's environment; checks the exit
        status; returns (stdout, stderr)."""
        code, out, err = self.run_ferry("sync", name, *args, env=env)
        self.assertEqual(code, expect, "ferry sync %s exited %d (expected %d)\nstdout:\n%s\n"
                         "stderr:\n%s" % (name, code, expect, out, err))
        return out, err

    def assert_failed(self, *fragments, args=(), env=None, table=False):
        """Runs the sync, expects exit 1 and a failed run whose error (and stdout) holds each
        fragment; table False: the target table must not exist, else it must hold exactly
        table (a list of rows). Returns (stdout, stderr, run, seconds taken)."""
        t0 = time.monotonic()
        out, err = self.sync_env(env, *args, expect=1)
        elapsed = time.monotonic() - t0
        run = self.last_run()
        self.assertEqual(run["status"], "failed", run)
        error = run["error"] or ""
        for f in fragments:
            self.assertIn(f, error, "the run's error %r does not name %r" % (error, f))
            self.assertIn(f, out, "stdout does not name %r:\n%s" % (f, out))
        if table is False:
            if self.table_exists("patients"):
                self.fail("a failed first run left a patients table: %r"
                          % (self.table_rows("patients", order_by="id")[:3],))
        else:
            self.assertEqual(self.table_rows("patients", order_by="id"), table,
                             "a failed run changed the target")
        return out, err, run, elapsed

    def assert_synced(self, out, n=N, created=N, updated=0, unchanged=0):
        self.assertIn(summary(n, created=created, updated=updated, unchanged=unchanged), out)
        run = self.last_run()
        self.assertEqual(run["status"], "succeeded", run)
        self.assertEqual((run["created"], run["updated"], run["unchanged"], run["skipped"],
                          run["failed"]), (created, updated, unchanged, 0, 0), run)
        return run

    def assert_rows(self, n=N):
        rows = self.table_rows("patients", order_by="id")
        self.assertEqual(len(rows), n, "patients holds %d rows, expected %d" % (len(rows), n))
        self.assertEqual(rows, [expected_row(i) for i in range(1, n + 1)])

    def page_requests(self, route, page):
        return [r for r in self.up.requests_for(route) if r["page"] == page]

    def assert_no_secret(self, secret, *texts):
        """secret appears in none of texts, the runs' messages, `ferry runs` or `ferry show`."""
        where = {"output %d" % i: t for i, t in enumerate(texts)}
        for run in self.runs():
            for col in ("ui_message", "log_message", "error"):
                where["ferry_runs.%s of run %d" % (col, run["id"])] = run[col] or ""
            where["ferry show %d" % run["id"]] = "".join(self.run_ferry("show", str(run["id"]))[1:])
        where["ferry runs"] = "".join(self.run_ferry("runs")[1:])
        for name, text in where.items():
            self.assertNotIn(secret, text, "the secret leaked into %s" % name)


class PaginationTest(RestTestCase):
    def test_next_link_pages_are_all_synced(self):
        self.use_style("next_link")
        out, _ = self.sync("patients")
        run = self.assert_synced(out)
        self.assertEqual(run["total"], N)
        self.assert_rows()
        reqs = self.up.requests_for(PATIENTS)
        self.assertEqual([r["page"] for r in reqs], [1, 2, 3])
        self.assertEqual([r["query"].get("per_page") for r in reqs], ["100"] * 3)
        self.assertTrue(request_header(reqs[0], "User-Agent").startswith("ferry/"), reqs[0])

    def test_link_header_pages_are_all_synced(self):
        path = self.use_style("link_header")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assert_rows()
        self.assertEqual([r["page"] for r in self.up.requests_for(path)], [1, 2, 3])

    def test_offset_pages_are_all_synced(self):
        path = self.use_style("offset")
        out, _ = self.sync("patients")
        run = self.assert_synced(out)
        self.assertEqual(run["total"], N)
        self.assert_rows()
        self.assertEqual([(r["query"].get("startAt"), r["query"].get("maxResults"))
                          for r in self.up.requests_for(path)],
                         [("0", "100"), ("100", "100"), ("200", "100")])

    def test_cursor_pages_are_all_synced(self):
        path = self.use_style("cursor")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assert_rows()
        tokens = [r["query"].get("nextPageToken") for r in self.up.requests_for(path)]
        self.assertEqual(len(tokens), 3, tokens)
        self.assertIn(tokens[0], (None, ""), "the first page was asked with a cursor")
        # The tokens hold '=': they must come back intact (percent-encoded in the query).
        self.assertEqual(tokens[1:], [encode_cursor(100), encode_cursor(200)])

    def test_query_values_with_spaces_and_quotes_are_percent_encoded(self):
        jql = 'project = "OPS" AND updated >= -1d & x+y'
        self.write_config(rest_yaml(self.up.url("/cursor/search"), """\
            query: { jql: '%s', maxResults: 100 }
            records: /issues
            pagination: { style: cursor, cursor: /nextPageToken, cursor_param: nextPageToken }
            """ % jql.replace("'", "''")))
        out, _ = self.sync("patients")
        self.assert_synced(out)
        reqs = self.up.requests_for("/cursor/search")
        self.assertEqual(len(reqs), 3)
        for r in reqs:
            self.assertIn("jql=project%20%3D%20%22OPS%22%20AND%20updated%20%3E%3D%20-1d%20%26"
                          "%20x%2By&", r["path"])
            self.assertEqual(r["query"].get("jql"), jql)

    def test_page_number_pages_are_all_synced(self):
        path = self.use_style("page")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assert_rows()
        self.assertEqual([(r["query"].get("page"), r["query"].get("size"))
                          for r in self.up.requests_for(path)],
                         [("1", "100"), ("2", "100"), ("3", "100")])

    def test_page_style_without_size_stops_at_the_empty_page(self):
        self.write_config(rest_yaml(self.up.url("/page/items"), "pagination: { style: page }"))
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assertEqual([r["page"] for r in self.up.requests_for("/page/items")], [1, 2, 3, 4])

    def test_second_run_is_all_unchanged(self):
        self.use_style("next_link")
        self.sync("patients")
        out, _ = self.sync("patients")
        run = self.assert_synced(out, created=0, unchanged=N)
        self.assertEqual(self.changes(run["id"]), [])
        self.assert_rows()

    def test_upstream_edit_is_one_update_with_its_field_diff(self):
        self.use_style("next_link")
        self.sync("patients")
        self.up.update_record(7, email="new7@example.com", address={"city": "Elsewhere"})
        out, _ = self.sync("patients")
        run = self.assert_synced(out, created=0, updated=1, unchanged=N - 1)
        changes = self.changes(run["id"])
        self.assertEqual([(c["outcome"], c["record_key"]) for c in changes], [("updated", "7")])
        self.assertEqual(json.loads(changes[0]["diff"]),
                         {"email": ["user7@example.com", "new7@example.com"],
                          "city": ["City7", "Elsewhere"]})
        rows = self.table_rows("patients", order_by="id")
        self.assertEqual(rows[6], expected_row(7, email="new7@example.com", city="Elsewhere"))

    def test_vars_fill_the_url_and_headers(self):
        self.write_config(rest_yaml(self.up.base_url + "/{section}/patients", """\
            vars: { section: next_link, shard: au1 }
            headers: { Accept: application/json, X-Shard: "{shard}" }
            records: /patients
            pagination: { style: next_link }
            """))
        out, _ = self.sync("patients")
        self.assert_synced(out)
        reqs = self.up.requests_for(PATIENTS)
        self.assertEqual(len(reqs), 3)
        for r in reqs:
            self.assertEqual(request_header(r, "X-Shard"), "au1", r["headers"])
            self.assertEqual(request_header(r, "Accept"), "application/json", r["headers"])

    def test_unknown_placeholder_is_a_config_error(self):
        self.write_config(rest_yaml(self.up.base_url + "/{sectoin}/patients",
                                    "records: /patients\npagination: { style: next_link }"))
        code, out, err = self.run_ferry("check")
        self.assertEqual(code, 2, "ferry check exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (code, out, err))
        self.assertIn("sectoin", err)
        self.assertEqual(self.up.count(), 0)


class AuthTest(RestTestCase):
    def secret(self):
        return "s3cr3t-" + secrets.token_hex(8)

    def assert_auth_sent(self, header, value):
        reqs = self.up.requests_for(PATIENTS)
        self.assertEqual(len(reqs), 3)
        for r in reqs:
            self.assertEqual(request_header(r, header), value, "request %s" % r["path"])

    def test_basic_auth_password_from_env_var(self):
        secret = self.secret()
        self.up.require_auth(basic=("api-user", secret))
        self.use_style("next_link", "auth: { type: basic, user: api-user, "
                                    "password_env: FERRY_TEST_PASSWORD }\n")
        out, err = self.sync_env({"FERRY_TEST_PASSWORD": secret})
        self.assert_synced(out)
        encoded = base64.b64encode(("api-user:" + secret).encode()).decode()
        self.assert_auth_sent("Authorization", "Basic " + encoded)
        self.assert_no_secret(secret, out, err)
        self.assert_no_secret(encoded, out, err)

    def test_basic_auth_user_from_env_var_with_an_empty_password(self):
        key = self.secret()  # Cliniko: the API key is the user, the password is empty
        self.up.require_auth(basic=(key, ""))
        self.use_style("next_link", "auth: { type: basic, user_env: FERRY_TEST_API_KEY }\n")
        out, err = self.sync_env({"FERRY_TEST_API_KEY": key})
        self.assert_synced(out)
        self.assert_auth_sent("Authorization",
                              "Basic " + base64.b64encode((key + ":").encode()).decode())
        self.assert_no_secret(key, out, err)

    def test_bearer_token_from_file(self):
        token = self.secret()
        self.up.require_auth(bearer=token)
        self.write_file("secrets/token", token + "\n")  # the final newline is not part of it
        self.use_style("next_link", "auth: { type: bearer, token_file: secrets/token }\n")
        out, err = self.sync_env(None)
        self.assert_synced(out)
        self.assert_auth_sent("Authorization", "Bearer " + token)
        self.assert_no_secret(token, out, err)

    def test_bearer_token_from_env_var(self):
        token = self.secret()
        self.up.require_auth(bearer=token)
        self.use_style("next_link", "auth: { type: bearer, token_env: FERRY_TEST_TOKEN }\n")
        out, err = self.sync_env({"FERRY_TEST_TOKEN": token})
        self.assert_synced(out)
        self.assert_auth_sent("Authorization", "Bearer " + token)
        self.assert_no_secret(token, out, err)

    def test_api_key_header_from_env_var(self):
        key = self.secret()
        self.up.require_auth(header=("X-API-Key", key))
        self.use_style("next_link", "auth: { type: header, header: X-API-Key, "
                                    "key_env: FERRY_TEST_API_KEY }\n")
        out, err = self.sync_env({"FERRY_TEST_API_KEY": key})
        self.assert_synced(out)
        self.assert_auth_sent("X-API-Key", key)
        self.assert_no_secret(key, out, err)

    def test_api_key_header_from_file(self):
        key = self.secret()
        self.up.require_auth(header=("X-API-Key", key))
        self.write_file("api-key.txt", key + "\n")
        self.use_style("next_link", "auth: { type: header, header: X-API-Key, "
                                    "key_file: api-key.txt }\n")
        out, err = self.sync_env(None)
        self.assert_synced(out)
        self.assert_auth_sent("X-API-Key", key)
        self.assert_no_secret(key, out, err)

    def test_missing_env_var_fails_naming_it_before_any_request(self):
        self.use_style("next_link", "auth: { type: bearer, token_env: FERRY_TEST_UNSET_TOKEN }\n")
        self.assert_failed("FERRY_TEST_UNSET_TOKEN", env={"FERRY_TEST_UNSET_TOKEN": None})
        self.assertEqual(self.up.count(), 0, "a request was sent without its credentials")

    def test_unreadable_token_file_fails_naming_it_before_any_request(self):
        self.use_style("next_link", "auth: { type: bearer, token_file: secrets/nope }\n")
        self.assert_failed("secrets/nope")
        self.assertEqual(self.up.count(), 0)

    def test_401_fails_with_credentials_rejected_and_is_not_retried(self):
        self.up.require_auth(bearer="the-right-token")
        wrong = self.secret()
        self.use_style("next_link", "auth: { type: bearer, token_env: FERRY_TEST_TOKEN }\n"
                                    "retries: 3\n")
        out, err, run, _ = self.assert_failed("credentials rejected",
                                              env={"FERRY_TEST_TOKEN": wrong})
        self.assertEqual(self.up.count(), 1, "a 401 was retried")
        self.assert_no_secret(wrong, out, err)

    def test_403_fails_with_credentials_rejected_and_is_not_retried(self):
        self.up.fault("status", path=PATIENTS, status=403, times=None,
                      body='{"error": "forbidden"}')
        self.use_style("next_link", "retries: 3\n")
        self.assert_failed("credentials rejected")
        self.assertEqual(self.up.count(), 1, "a 403 was retried")


class RetryTest(RestTestCase):
    def test_429_with_retry_after_waits_then_succeeds(self):
        self.up.fault("429", path=PATIENTS, page=2, retry_after=1)
        self.use_style("next_link")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assert_rows()
        tries = self.page_requests(PATIENTS, 2)
        self.assertEqual([r["status"] for r in tries], [429, 200])
        waited = tries[1]["mono"] - tries[0]["mono"]
        self.assertGreaterEqual(waited, 0.9, "Retry-After: 1 was not waited (%.3f s)" % waited)

    def test_429_with_x_ratelimit_reset_waits_until_the_reset(self):
        fault = self.up.fault("429_reset", path=PATIENTS, page=2, reset_in=1)
        self.use_style("next_link")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assertEqual(fault.fired, 1)
        tries = self.page_requests(PATIENTS, 2)
        self.assertEqual([r["status"] for r in tries], [429, 200])
        # The reset is a whole second at least 1 s after the 429 was sent.
        waited = tries[1]["time"] - tries[0]["time"]
        self.assertGreaterEqual(waited, 0.9,
                                "X-RateLimit-Reset was not waited for (%.3f s)" % waited)

    def test_429_asking_longer_than_max_wait_fails(self):
        self.up.fault("429", path=PATIENTS, page=1, times=None, retry_after=3600)
        self.use_style("next_link", "max_wait: 2s\n")
        # Failed at once: one request, no wait for the hour (a wait would outlast the test's
        # time limit, never pass).
        _, _, run, _ = self.assert_failed("429")
        self.assertEqual(self.up.count(PATIENTS), 1)

    def test_429_without_retry_after_obeys_retries(self):
        self.up.fault("429", path=PATIENTS, page=2, times=None, retry_after=None)
        self.use_style("next_link", "retries: 2\n")
        _, _, run, _ = self.assert_failed("429", "page 2", "after 2 retries")
        self.assertEqual([r["status"] for r in self.page_requests(PATIENTS, 2)], [429] * 3,
                         "expected 1 try + 2 retries")

    def test_429_and_500_share_one_retry_budget(self):
        self.up.fault("429", path=PATIENTS, page=2, times=1, retry_after=None)
        self.up.fault("status", path=PATIENTS, page=2, on=2, times=None, status=500)
        self.use_style("next_link", "retries: 2\n")
        self.assert_failed("page 2", "500")
        self.assertEqual([r["status"] for r in self.page_requests(PATIENTS, 2)],
                         [429, 500, 500], "expected 1 try + 2 retries in all")

    def test_429_with_retry_after_counts_against_retries(self):
        self.up.fault("429", path=PATIENTS, page=1, times=None, retry_after=0)
        self.use_style("next_link", "retries: 1\n")
        self.assert_failed("429", "page 1")
        self.assertEqual(self.up.count(PATIENTS), 2, "expected 1 try + 1 retry")

    def test_500_once_is_retried_and_the_run_succeeds(self):
        self.up.fault("status", path=PATIENTS, page=2, status=500)
        self.use_style("next_link", "retries: 2\n")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assert_rows()
        self.assertEqual([r["status"] for r in self.page_requests(PATIENTS, 2)], [500, 200])

    def test_reset_connection_is_retried_and_the_run_succeeds(self):
        self.up.fault("reset", path=PATIENTS, page=3)
        self.use_style("next_link", "retries: 2\n")
        out, _ = self.sync("patients")
        self.assert_synced(out)
        self.assertEqual(len(self.page_requests(PATIENTS, 3)), 2)

    def test_500_every_time_fails_after_retries_and_leaves_the_target_untouched(self):
        self.use_style("next_link", "retries: 2\n")
        self.sync("patients")
        before = self.table_rows("patients", order_by="id")
        self.up.update_record(7, email="new7@example.com")
        self.up.reset_requests()
        self.up.fault("status", path=PATIENTS, page=2, status=500, times=None)
        _, _, run, _ = self.assert_failed(self.up.url(PATIENTS), "page 2", "500", table=before)
        self.assertEqual(len(self.page_requests(PATIENTS, 2)), 3, "expected 1 try + 2 retries")
        self.assertNotIn("per_page", run["error"], "the error names the query string")
        self.assertNotIn(PATIENTS + "?", run["error"])


class PageFailureTest(RestTestCase):
    def test_slow_page_past_timeout_fails(self):
        self.up.fault("slow", path=PATIENTS, page=2, times=None, delay=20)
        self.use_style("next_link", "timeout: 1s\nretries: 1\n")
        _, _, run, _ = self.assert_failed(self.up.url(PATIENTS), "page 2")
        self.assertRegex(run["error"], r"(?i)timed? ?out")
        self.assertEqual(len(self.page_requests(PATIENTS, 2)), 2, "a timeout is retried")

    def test_truncated_json_fails_and_writes_nothing(self):
        self.up.fault("truncate", path=PATIENTS, page=2, times=None)
        self.use_style("next_link")
        _, _, run, _ = self.assert_failed("page 2", "JSON")
        self.assertRegex(run["error"], r"(?i)line\D{0,3}\d+.*column\D{0,3}\d+",
                         "the parser's line and column are not named")

    def test_html_page_fails_saying_html(self):
        self.up.fault("html", path=PATIENTS, page=1, times=None)
        self.use_style("next_link")
        self.assert_failed("HTML", "page 1")

    def test_missing_records_pointer_fails_naming_it(self):
        self.up.fault("no_records", path=PATIENTS, page=2, times=None)
        self.use_style("next_link")
        self.assert_failed("/patients", "page 2")

    def test_repeating_next_link_fails_as_a_loop(self):
        self.up.fault("loop", path=PATIENTS, page=2, times=None)
        self.use_style("next_link")
        self.assert_failed("loop")
        self.assertLessEqual(self.up.count(PATIENTS), 4, "the loop was followed")

    def test_repeating_cursor_fails_as_a_loop(self):
        self.up.fault("loop", path="/cursor/search", page=2, times=None)
        self.use_style("cursor")
        self.assert_failed("loop")
        self.assertLessEqual(self.up.count("/cursor/search"), 4)

    def test_next_link_to_another_host_fails_without_contacting_it(self):
        self.up.fault("offhost", path=PATIENTS, page=1, times=None)
        self.use_style("next_link", "auth: { type: bearer, token_env: FERRY_TEST_TOKEN }\n")
        self.assert_failed(ALT_HOST, env={"FERRY_TEST_TOKEN": "tok-" + secrets.token_hex(4)})
        self.assertEqual(self.up.count(server=ALT_HOST), 0,
                         "the credentials were sent to another host")
        self.assertEqual(self.up.count(PATIENTS), 1)

    def test_redirect_is_not_followed(self):
        self.up.fault("status", path=PATIENTS, page=2, times=None, status=302,
                      headers={"Location": self.up.url("/page/items")}, body="")
        self.use_style("next_link")
        self.assert_failed("302", "page 2")
        self.assertEqual(self.up.count("/page/items"), 0)

    def test_page_larger_than_max_page_bytes_fails(self):
        self.up.fault("big", path=PATIENTS, page=2, times=None, size=300000)
        self.use_style("next_link", "max_page_bytes: 64KiB\n")
        _, _, run, _ = self.assert_failed("page 2")
        self.assertRegex(run["error"], r"(?i)max_page_bytes|larger|too large|exceed|limit")

    def test_stalled_response_fails_after_stall_timeout(self):
        self.up.fault("stall", path=PATIENTS, page=2, times=None, after=200, seconds=20)
        self.use_style("next_link", "timeout: 30s\nstall_timeout: 1s\nretries: 1\n")
        _, _, run, _ = self.assert_failed(self.up.url(PATIENTS), "page 2")
        # The low-speed check ended it ("stalled"), not the 30 s timeout ("timed out"): said by
        # the message, not by a clock, so a busy machine cannot make it fail.
        self.assertIn("stalled", run["error"])
        self.assertNotIn("timed out", run["error"])
        self.assertEqual(len(self.page_requests(PATIENTS, 2)), 2, "a stall is retried")


class RateLimitTest(RestTestCase):
    def test_rate_limit_spaces_requests(self):
        # 25 pages at 10/s: whatever the bucket holds at the start (at most one second's
        # worth), the last request comes at least 1.5 s after the first.
        self.write_config(rest_yaml(self.up.url(PATIENTS), """\
            query: { per_page: 10 }
            records: /patients
            pagination: { style: next_link }
            rate_limit: 10/s
            """))
        out, _ = self.sync("patients")
        self.assert_synced(out)
        times = self.up.times(PATIENTS)
        self.assertEqual(len(times), 25)
        span = times[-1] - times[0]
        self.assertGreaterEqual(span, 1.0, "25 requests at 10/s took only %.2f s" % span)


class TenantTest(RestTestCase):
    def tenant_rows(self):
        return self.query("SELECT organization_id, id, first_name, email FROM patients "
                          "ORDER BY organization_id, id")

    def test_two_tenants_share_one_table_with_their_tenant_column(self):
        self.use_tenants()
        out, _ = self.sync("patients", "--tenant", "org-1")
        self.assertIn(summary(3, created=3), out)
        out, _ = self.sync("patients", "--tenant", "org-2")
        self.assertIn(summary(2, created=2), out)
        self.assertEqual(self.tenant_rows(), [
            ("org-1", 1, "First1", "user1@example.com"),
            ("org-1", 2, "First2", "user2@example.com"),
            ("org-1", 3, "First3", "user3@example.com"),
            ("org-2", 1, "Second1", "user1@example.com"),
            ("org-2", 2, "Second2", "user2@example.com")])
        self.assertEqual([(r["tenant"], r["status"]) for r in self.runs()],
                         [("org-1", "succeeded"), ("org-2", "succeeded")])
        self.assertEqual(self.up.count("/t/org-1" + PATIENTS), 1)
        self.assertEqual(self.up.count("/t/org-2" + PATIENTS), 1)

    def test_on_missing_delete_only_touches_the_runs_tenant(self):
        self.use_tenants()
        self.sync("patients", "--tenant", "org-1")
        self.sync("patients", "--tenant", "org-2")
        self.up.delete_record(2, tenant="org-1")
        out, _ = self.sync("patients", "--tenant", "org-1")
        self.assertIn(summary(2, unchanged=2) + ", 1 deleted", out)
        run = self.last_run()
        self.assertEqual((run["tenant"], run["deleted"]), ("org-1", 1))
        self.assertEqual([c["outcome"] for c in self.changes(run["id"])], ["deleted"])
        self.assertEqual([(t, i) for t, i, _, _ in self.tenant_rows()],
                         [("org-1", 1), ("org-1", 3), ("org-2", 1), ("org-2", 2)])

    def test_tenant_sync_without_tenant_is_refused(self):
        self.use_tenants()
        code, out, err = self.run_ferry("sync", "patients")
        self.assertIn(code, (1, 2), "ferry sync without --tenant exited %d\nstdout:\n%s\n"
                      "stderr:\n%s" % (code, out, err))
        self.assertRegex(out + err, r"(?i)tenant")
        self.assertEqual(self.up.count(), 0)
        self.assertFalse(self.table_exists("patients"))

    def test_tenant_not_in_values_is_refused(self):
        self.use_tenants()
        self.up.set_tenant("org-3", make_records(1))
        code, out, err = self.run_ferry("sync", "patients", "--tenant", "org-3")
        self.assertIn(code, (1, 2), "ferry sync --tenant org-3 exited %d\nstdout:\n%s\n"
                      "stderr:\n%s" % (code, out, err))
        self.assertIn("org-3", out + err)
        self.assertEqual(self.up.count(), 0)
        self.assertFalse(self.table_exists("patients"))

    def test_csv_source_with_the_tenant_in_its_url(self):
        self.write_csv("exports/org-1.csv", ["id", "name"], [["1", "Ann"], ["2", "Bob"]])
        self.write_csv("exports/org-2.csv", ["id", "name"], [["1", "Cy"]])
        self.write_config(textwrap.dedent("""\
            database: sqlite:ferry.db
            syncs:
              people:
                tenant: { variable: org_id, column: organization_id }
                source: { kind: csv, url: "exports/{org_id}.csv" }
                target: { table: people, key: [id] }
                fields:
                  id:   { type: integer }
                  name: { required: true }
            """))
        self.sync("people", "--tenant", "org-1")
        out, _ = self.sync("people", "--tenant", "org-2")
        self.assertIn(summary(1, created=1, noun="people"), out)
        self.assertEqual(self.query("SELECT organization_id, id, name FROM people "
                                    "ORDER BY organization_id, id"),
                         [("org-1", 1, "Ann"), ("org-1", 2, "Bob"), ("org-2", 1, "Cy")])

    def test_csv_over_http_with_the_tenant_in_its_url(self):
        self.up.set_tenant("org-1", make_records(4))
        self.write_config(textwrap.dedent("""\
            database: sqlite:ferry.db
            allow_private: true
            syncs:
              patients:
                tenant: { variable: org_id, column: organization_id, values: [org-1] }
                source: { url: "%s/t/{org_id}/csv/patients.csv" }
                target: { table: patients, key: [id] }
                fields:
                  id:    { type: integer }
                  email: { type: email }
                  city:
            """ % self.up.base_url))
        out, _ = self.sync("patients", "--tenant", "org-1")
        self.assertIn(summary(4, created=4), out)
        self.assertEqual(self.query("SELECT organization_id, id, city FROM patients ORDER BY id"),
                         [("org-1", i, "City%d" % i) for i in range(1, 5)])


    # -- tenants: { query } --

    def use_tenant_query(self, query="SELECT slug FROM organisations WHERE cliniko_enabled "
                                     "ORDER BY slug", extra_sync=""):
        """use_tenants(), with the tenants named by a query on an app-made organisations
        table in the test's database (org-1 and org-2 enabled, org-3 not)."""
        self.exec_script("CREATE TABLE organisations (id INTEGER PRIMARY KEY, slug TEXT, "
                         "cliniko_enabled BOOLEAN NOT NULL);"
                         "INSERT INTO organisations (id, slug, cliniko_enabled) VALUES "
                         "(1, 'org-2', TRUE), (2, 'org-1', TRUE), (3, 'org-3', FALSE);")
        self.up.set_tenant("org-3", make_records(1))
        self.use_tenants()
        with open(os.path.join(self.dir, "ferry.yaml")) as f:
            text = f.read()
        text = text.replace(TENANT, "tenant: { variable: org_id, column: organization_id }\n"
                            "    tenants: { query: %s }\n%s" % (json.dumps(query), extra_sync))
        self.write_config(text)

    def test_tenants_named_by_a_query_on_the_apps_database(self):
        self.use_tenant_query()
        code, out, err = self.run_ferry("check", "patients")
        self.assertEqual(code, 0, out + err)
        self.assertIn("patients: tenants.query names 2 tenants: org-1, org-2", out)
        self.assertEqual(self.up.count("/t/org-1" + PATIENTS), 1)  # checked the first
        out, _ = self.sync("patients", "--tenant", "org-2")
        self.assertIn(summary(2, created=2), out)
        code, out, err = self.run_ferry("sync", "patients", "--tenant", "org-3")
        self.assertEqual(code, 2, out + err)
        self.assertIn("org-3: not one of the tenants tenants.query names", err)
        self.assertEqual(self.up.count("/t/org-3" + PATIENTS), 0)
        # The query is read at each request: enabling org-3 in the app lets it run.
        self.db_exec("UPDATE organisations SET cliniko_enabled = TRUE WHERE slug = 'org-3'")
        out, _ = self.sync("patients", "--tenant", "org-3")
        self.assertIn(summary(1, created=1), out)
        code, out, _ = self.run_ferry("check", "patients", "--tenant", "org-3")
        self.assertIn("names 3 tenants: org-1, org-2, org-3", out)

    def test_a_schedule_runs_each_tenant_the_query_names_at_its_firing(self):
        self.use_tenant_query(extra_sync="    schedule: every 1h\n")
        with self.serve() as srv:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                runs = [r for r in self.runs() if r["status"] == "succeeded"]
                if len(runs) >= 2:
                    break
                time.sleep(0.1)
            syncs = srv.get_json("/api/syncs")["syncs"]
        self.assertEqual(sorted((r["tenant"], r["trigger"]) for r in self.runs()),
                         [("org-1", "schedule"), ("org-2", "schedule")])
        tenant = [s for s in syncs if s["name"] == "patients"][0]["tenant"]
        self.assertEqual((tenant["values"], tenant["query"]), (["org-1", "org-2"], True))
        self.assertEqual(self.up.count("/t/org-3" + PATIENTS), 0)

    def test_a_run_asked_over_the_api_for_a_tenant_the_query_does_not_name_is_refused(self):
        self.use_tenant_query()
        with self.serve() as srv:
            r = srv.post("/api/syncs/patients/runs", {"tenant": "org-3"})
            self.assertEqual(r.status, 400, r.body)
            self.assertIn("not one of the tenants tenants.query names", r.json["error"]["message"])
            r = srv.post("/api/syncs/patients/runs", {"tenant": "org-1"})
            self.assertEqual(r.status, 202, r.body)
            srv.wait_run(r.json["id"])
            r = srv.get("/api/syncs/patients/check?tenant=org-3")
            self.assertEqual(r.status, 400, r.body)
            self.assertIn("not one of the tenants tenants.query names", r.json["error"]["message"])
            self.assertTrue(srv.get_json("/api/syncs/patients/check?tenant=org-2")["ok"])
            self.assertEqual(self.up.count("/t/org-3" + PATIENTS), 0)

    def test_a_broken_tenants_query_is_named_and_odd_values_are_left_out(self):
        self.use_tenant_query(query="SELECT slug FROM organisatons")
        code, out, err = self.run_ferry("check", "patients")
        self.assertEqual(code, 1, out + err)
        self.assertIn("patients: tenants not read: tenants.query: ", out)
        self.assertIn("organisatons", out)
        self.assertEqual(self.up.count(), 0)
        self.db_exec("UPDATE organisations SET slug = 'Org 3', cliniko_enabled = TRUE "
                     "WHERE id = 3")
        with open(os.path.join(self.dir, "ferry.yaml")) as f:
            text = f.read()
        self.write_config(text.replace("FROM organisatons", "FROM organisations WHERE "
                                       "cliniko_enabled ORDER BY slug"))
        code, out, err = self.run_ferry("check", "patients")
        self.assertEqual(code, 0, out + err)
        self.assertIn("names 2 tenants: org-1, org-2", out)
        self.assertIn("left out: 'Org 3': a tenant is letters, digits, '.', '_' and '-'", out)


class CheckTest(RestTestCase):
    CHECK_FIELDS = """\
        fields:
          id:         { type: integer }
          first_name: { required: true }
          last_name:
          email:      { type: email }
          city:       { pointer: /address/city }
          labels:
        """

    def check(self, *args, expect=0):
        code, out, err = self.run_ferry("check", "patients", *args)
        self.assertEqual(code, expect, "ferry check patients exited %d (expected %d)\n"
                         "stdout:\n%s\nstderr:\n%s" % (code, expect, out, err))
        return out

    @staticmethod
    def line(out, prefix):
        for line in out.splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].strip()
        return None

    def test_check_reports_first_page_total_and_unmapped_fields(self):
        self.use_style("next_link", fields=self.CHECK_FIELDS)
        out = self.check()
        self.assertRegex(out, r"(?m)^patients: reachable, credentials accepted "
                              r"\(HTTP 200, \d+ ms\)$")
        self.assertIn("first page: 100 records; 250 in all", out)
        unmapped = self.line(out, "not mapped:")
        self.assertIsNotNone(unmapped, "no 'not mapped:' line in:\n" + out)
        self.assertEqual(sorted(p.strip() for p in unmapped.split(",")),
                         ["/archived_at", "/created_at"])
        self.assertIn(self.line(out, "missing:"), (None, "", "none"),
                      "nothing is missing, yet:\n" + out)
        self.assertEqual(self.up.count(), 1, "check fetches the first page only")
        self.assertFalse(self.table_exists("patients"), "check wrote the target")

    def test_check_names_a_missing_credentials_file(self):
        self.use_style("next_link", fields=self.CHECK_FIELDS,
                       extra="auth: { type: basic, user: ana, password_file: secrets/pw.txt }\n")
        out = self.check(expect=1)
        self.assertRegex(out, r"(?m)^patients: credentials not read, source not tried \(\d+ ms\)$")
        self.assertNotIn("not reachable", out)
        self.assertRegex(out, r"(?m)^error: the password is read from .*secrets/pw\.txt, which "
                              r"cannot be opened: No such file or directory$")
        self.assertEqual(self.up.count(), 0, "the source was contacted without credentials")

    def test_check_names_an_unreadable_credentials_file(self):
        self.use_style("next_link", fields=self.CHECK_FIELDS,
                       extra="auth: { type: bearer, token_file: token.txt }\n")
        self.write_file("token.txt", "")
        out = self.check(expect=1)
        self.assertIn("patients: credentials not read, source not tried", out)
        self.assertRegex(out, r"(?m)^error: the token file .*token\.txt is empty or not text$")
        self.assertEqual(self.up.count(), 0)

    def test_check_reports_a_mapped_field_no_record_has(self):
        self.use_style("next_link", fields=self.CHECK_FIELDS + "  phone: { pointer: /phone }\n")
        out = self.check(expect=1)
        self.assertIn("patients: reachable, credentials accepted", out)
        self.assertIn("missing: phone (/phone)", out)

    def test_check_with_rejected_credentials_exits_1(self):
        self.up.require_auth(bearer="right")
        self.use_style("next_link", "auth: { type: bearer, token_env: FERRY_TEST_TOKEN }\n",
                       fields=self.CHECK_FIELDS)
        code, out, err = self.run_ferry("check", "patients", env={"FERRY_TEST_TOKEN": "wrong"})
        self.assertEqual(code, 1, "stdout:\n%s\nstderr:\n%s" % (out, err))
        self.assertIn("patients: reachable", out)
        self.assertNotIn("credentials accepted", out)
        self.assertEqual(self.up.count(), 1)

    def test_check_with_a_tenant_reads_that_tenants_first_page(self):
        self.use_tenants()
        out = self.check("--tenant", "org-2")
        self.assertIn("first page: 2 records; 2 in all", out)
        self.assertEqual(self.up.count("/t/org-2" + PATIENTS), 1)
        self.assertEqual(self.up.count(), 1)


class ServeTest(RestTestCase):
    def test_rate_limited_phase_says_until_when(self):
        self.up.fault("429", path=PATIENTS, page=2, retry_after=3)
        self.use_style("next_link")
        with self.serve() as srv:
            r = srv.post("/api/syncs/patients/runs")
            self.assertEqual(r.status, 202, r)
            waiting = srv.wait_run(r.json["id"],
                                   lambda run: (run["phase"] or "").startswith("rate limited"),
                                   what="to say it is rate limited")
            self.assertRegex(waiting["phase"], r"^rate limited until \d\d:\d\d:\d\d UTC$")
            self.assertEqual(waiting["status"], "running")
            run = srv.wait_run(r.json["id"])
        self.assertEqual((run["status"], run["counts"]["created"]), ("succeeded", N), run)

    def test_total_without_a_stated_one_is_the_last_runs_count(self):
        path, _ = STYLES["link_header"]
        self.use_style("link_header")
        out, _ = self.sync("patients")
        self.assertIn("%d created" % N, out)
        self.up.fault("slow", path=path, page=2, delay=3)
        with self.serve() as srv:
            r = srv.post("/api/syncs/patients/runs")
            fetching = srv.wait_run(r.json["id"],
                                    lambda run: run["phase"] == "fetching" and
                                    run["total"] is not None,
                                    what="to fetch with an estimated total")
            self.assertEqual((fetching["total"], fetching["total_estimated"]), (N, True),
                             fetching)
            run = srv.wait_run(r.json["id"])
        self.assertEqual((run["status"], run["counts"]["unchanged"]), ("succeeded", N), run)

    def test_check_api_answers_the_documented_json(self):
        self.use_style("next_link", fields=CheckTest.CHECK_FIELDS)
        with self.serve() as srv:
            j = srv.get_json("/api/syncs/patients/check")
        documented = {"sync", "tenant", "ok", "reachable", "auth_accepted", "credentials_read",
                      "status", "duration_ms", "records", "total", "unmapped", "missing", "error"}
        self.assertLessEqual(documented, set(j), "keys missing from the answer: %r" % j)
        self.assertEqual((j["sync"], j["tenant"], j["ok"], j["reachable"], j["auth_accepted"],
                          j["status"], j["records"], j["total"], j["missing"], j["error"]),
                         ("patients", None, True, True, True, 200, 100, N, [], None), j)
        self.assertIs(j["credentials_read"], True)
        self.assertIsInstance(j["duration_ms"], int)
        self.assertEqual(sorted(j["unmapped"]), ["/archived_at", "/created_at"])
        self.assertEqual(self.up.count(), 1)
        self.assertFalse(self.table_exists("patients"))

    def test_check_api_with_a_tenant_and_a_missing_field(self):
        self.use_tenants(fields="""\
            fields:
              id:    { type: integer }
              phone: { pointer: /phone }
            """)
        with self.serve() as srv:
            j = srv.get_json("/api/syncs/patients/check?tenant=org-1")
        self.assertEqual((j["tenant"], j["ok"], j["reachable"], j["records"], j["total"]),
                         ("org-1", False, True, 3, 3), j)
        self.assertTrue(any("phone" in m for m in j["missing"]), j)
        self.assertEqual(self.up.count("/t/org-1" + PATIENTS), 1)

    def test_post_run_with_a_tenant_runs_for_that_tenant(self):
        self.use_tenants()
        with self.serve() as srv:
            r = srv.post("/api/syncs/patients/runs", {"tenant": "org-1"})
            self.assertEqual(r.status, 202, r)
            self.assertEqual(r.json["tenant"], "org-1", r)
            run = srv.wait_run(r.json["id"])
        self.assertEqual((run["status"], run["tenant"], run["counts"]["created"]),
                         ("succeeded", "org-1", 3), run)
        self.assertEqual(self.query("SELECT DISTINCT organization_id FROM patients"),
                         [("org-1",)])
        self.assertEqual(self.up.count("/t/org-2" + PATIENTS), 0)

    def test_post_run_without_or_with_an_unknown_tenant_is_refused(self):
        self.use_tenants()
        with self.serve() as srv:
            for body in (None, {}, {"tenant": "org-9"}, {"tenant": "../etc"}):
                r = srv.post("/api/syncs/patients/runs", body)
                self.assertEqual(r.status, 400, "body %r: %r" % (body, r))
                self.assertEqual(set(r.json or {}), {"error"}, r)
        self.assertEqual(self.up.count(), 0)
        self.assertEqual(self.runs(), [])


if __name__ == "__main__":
    ferrytest.main()
