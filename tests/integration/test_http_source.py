"""HTTP(S) sources, served by a loopback server the test starts (127.0.0.1, port 0).

A Google Sheets export answers with a redirect, an HTML sign-in page (status 200) when the
sheet is not shared, 4xx/5xx when the URL is wrong or Google is down, and can be slow. Every
failure must end the run with a message a person can act on, within the configured timeout,
and without leaking the URL's credentials or query string (the export token).
"""

import gzip
import threading
import time

import ferrytest
from ferrytest import closed_port, csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
CSV = csv_text(HEADER, people_rows(5))

HTML_PAGE = (b"<!DOCTYPE html><html lang=\"en\"><head><title>Google Sheets - Sign in</title>"
             b"</head><body><p>Sign in to continue</p></body></html>")


class HttpTestCase(ferrytest.FerryTestCase):
    def use_url(self, url, **source):
        self.write_config({"t": sync_config(url, source=source)})

    def assert_failed(self, *fragments, expect_table=False):
        """Runs the sync, expects exit 1, and returns the run's error; each fragment must be
        in stdout and in the recorded error."""
        out, err = self.sync("t", expect=1)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        for f in fragments:
            self.assertIn(f, out)
            self.assertIn(f, run["error"])
        self.assertEqual(self.table_exists("people"), expect_table)
        return out, err, run


class HttpSuccessTest(HttpTestCase):
    def test_csv_over_http_is_synced(self):
        self.use_url(self.server.route("/people.csv", body=CSV))
        out, _ = self.sync("t")
        self.assertIn("Processed 5 people: 5 created", out)
        self.assertEqual(self.table_rows("people"), [tuple(r) for r in people_rows(5)])
        self.assertEqual(len(self.server.requests), 1)
        self.assertTrue(self.server.requests[0]["headers"]["User-Agent"].startswith("ferry/"))

    def test_body_without_content_length_is_read_to_the_end(self):
        self.use_url(self.server.route("/people.csv", body=CSV, content_length=False))
        out, _ = self.sync("t")
        self.assertIn("5 created", out)

    def test_gzip_encoded_body_is_decoded(self):
        self.use_url(self.server.route("/people.csv", body=gzip.compress(CSV.encode()),
                                       headers={"Content-Encoding": "gzip"}))
        out, _ = self.sync("t")
        self.assertIn("5 created", out)

    def test_redirects_are_followed_as_google_sheets_needs(self):
        self.server.route("/final.csv", body=CSV)
        self.server.route("/hop", redirect="/final.csv", status=307)
        url = self.server.route("/spreadsheets/d/ID/export", redirect=self.server.url("/hop"))
        self.use_url(url + "?format=csv&gid=0")
        out, _ = self.sync("t")
        self.assertIn("5 created", out)
        self.assertEqual([r["path"] for r in self.server.requests],
                         ["/spreadsheets/d/ID/export?format=csv&gid=0", "/hop", "/final.csv"])

    def test_large_chunked_body_streams_fully(self):
        n = 200_000

        def body():
            yield "id,name,email\n"
            for start in range(0, n, 2000):
                yield "".join("P%07d,Person %d,p%d@example.com\n" % (i, i, i)
                              for i in range(start, start + 2000))
        self.use_url(self.server.route("/big.csv", body=body))
        out, _ = self.sync("t")
        self.assertIn("Processed 200000 people: 200000 created, 0 updated", out)
        self.assertEqual(self.query("SELECT count(*), min(id), max(id) FROM people"),
                         [(n, "P0000000", "P%07d" % (n - 1))])


class HttpFailureTest(HttpTestCase):
    def test_html_page_with_status_200_fails_and_suggests_sharing(self):
        self.use_url(self.server.route("/export", body=HTML_PAGE,
                                       headers={"Content-Type": "text/html; charset=utf-8"}))
        out, _, run = self.assert_failed("returned an HTML page, not CSV")
        self.assertIn("shared with 'Anyone with the link'", out)
        self.assertIn("published to the web as CSV? Nothing was changed.", out)

    def test_html_body_is_recognised_whatever_its_content_type(self):
        self.use_url(self.server.route("/export", body=b"\n  " + HTML_PAGE,
                                       headers={"Content-Type": "text/csv"}))
        self.assert_failed("HTML page")

    def test_http_error_statuses_fail_with_the_status(self):
        cases = [(404, "answered HTTP 404 (not found: check the URL)"),
                 (403, "answered HTTP 403 (access denied: is the sheet shared or published?)"),
                 (500, "answered HTTP 500"),
                 (503, "answered HTTP 503")]
        for status, fragment in cases:
            with self.subTest(status=status):
                url = self.server.route("/s%d.csv" % status, status=status,
                                        body="<html><body>error</body></html>",
                                        headers={"Content-Type": "text/html"})
                self.use_url(url)
                self.assert_failed(url + " " + fragment)

    def test_empty_error_body_still_reports_the_status(self):
        self.use_url(self.server.route("/gone.csv", status=410, body=b""))
        self.assert_failed("answered HTTP 410")

    def test_server_that_stalls_before_answering_times_out(self):
        self.use_url(self.server.route("/slow.csv", body=CSV, delay=20), timeout="1s")
        # Without the timeout the answer would come after 20 s and the run succeed: the failure
        # saying "timed out" proves it, with no clock to trip over on a busy machine.
        out, _, run = self.assert_failed("timed out")
        self.assertIn(self.server.url("/slow.csv"), out)

    def test_server_that_stalls_mid_body_times_out(self):
        self.use_url(self.server.route("/slow.csv", body=CSV, stall_after=20,
                                       stall_bytes=len("id,name,email\nP0000000,Pe")),
                     timeout="1s")
        self.assert_failed("timed out")  # the rest would come after 20 s: the run would succeed

    def test_connection_refused_fails_readably(self):
        url = "http://127.0.0.1:%d/people.csv" % closed_port()
        self.use_url(url)
        out, _, run = self.assert_failed(url + " is unreachable")

    def test_redirect_to_a_file_url_is_refused(self):
        self.use_url(self.server.route("/evil", redirect="file:///etc/passwd"))
        out, _, _ = self.assert_failed(self.server.url("/evil"))
        self.assertNotIn("root:", out)

    def test_redirect_loop_fails(self):
        self.use_url(self.server.route("/loop", redirect="/loop"))
        self.assert_failed("redirected more than 5 times")


class HttpSecretsTest(HttpTestCase):
    """The user, password and query string of the URL never reach a message."""

    SECRETS = ("alice", "secret", "abc123")

    def secret_url(self, path, port=None):
        return "http://alice:secret@127.0.0.1:%d%s?token=abc123&gid=0" % (
            port or self.server.port, path)

    def assert_no_secrets(self, out, err):
        texts = {"stdout": out, "stderr": err}
        for run in self.runs():
            for col in ("ui_message", "log_message", "error"):
                texts["ferry_runs.%s of run %d" % (col, run["id"])] = run[col] or ""
        code, runs_out, _ = self.run_ferry("runs")
        texts["ferry runs"] = runs_out
        code, show_out, _ = self.run_ferry("show", "1")
        texts["ferry show"] = show_out
        for where, text in texts.items():
            for secret in self.SECRETS:
                self.assertNotIn(secret, text, "%r leaked into %s: %r" % (secret, where, text))

    def test_credentials_and_query_absent_from_http_error(self):
        self.server.route("/x.csv", status=404, body=b"nope")
        self.use_url(self.secret_url("/x.csv"))
        out, err, _ = self.assert_failed("http://127.0.0.1:%d/x.csv answered HTTP 404"
                                         % self.server.port)
        self.assert_no_secrets(out, err)
        # The credentials were used for the request all the same.
        self.assertTrue(self.server.requests[0]["headers"]["Authorization"].startswith("Basic "))
        self.assertIn("token=abc123", self.server.requests[0]["path"])

    def test_credentials_and_query_absent_from_html_timeout_and_refused_errors(self):
        self.server.route("/html", body=HTML_PAGE, headers={"Content-Type": "text/html"})
        self.server.route("/slow", body=CSV, delay=20)
        cases = [(self.secret_url("/html"), {}, "HTML page"),
                 (self.secret_url("/slow"), {"timeout": "1s"}, "timed out"),
                 (self.secret_url("/x", port=closed_port()), {}, "unreachable")]
        outs, errs = [], []
        for url, source, fragment in cases:
            self.use_url(url, **source)
            out, err, _ = self.assert_failed(fragment)
            outs.append(out)
            errs.append(err)
        self.assert_no_secrets("".join(outs), "".join(errs))



class HttpRetryTest(HttpTestCase):
    def use_retrying_url(self, url, retries):
        cfg = sync_config(url)
        cfg["retries"] = retries
        self.write_config({"t": cfg})

    def test_transient_error_is_retried_then_succeeds(self):
        self.use_retrying_url(self.server.route("/people.csv", status=503, body="busy"), 2)

        def heal():  # the service recovers once it has failed one request
            deadline = time.monotonic() + 10
            while not self.server.requests and time.monotonic() < deadline:
                time.sleep(0.01)
            self.server.route("/people.csv", body=CSV)

        t = threading.Thread(target=heal)
        t.start()
        out, _ = self.sync("t")
        t.join()
        self.assertIn("Processed 5 people: 5 created", out)
        self.assertEqual(len(self.server.requests), 2)
        self.assertEqual(len(self.table_rows("people")), 5)

    def test_client_errors_are_not_retried(self):
        self.use_retrying_url(self.server.route("/people.csv", status=404, body="no"), 3)
        self.sync("t", expect=1)
        self.assertEqual(len(self.server.requests), 1)

    def test_retries_give_up_with_the_last_error(self):
        self.use_retrying_url(self.server.route("/people.csv", status=503, body="busy"), 1)
        out, _ = self.sync("t", expect=1)
        self.assertEqual(len(self.server.requests), 2)
        run = self.last_run()
        self.assertIn("failed after 1 retry", run["ui_message"])
        self.assertIn("HTTP 503", run["error"])
        self.assertFalse(self.table_exists("people"))

if __name__ == "__main__":
    ferrytest.main()
