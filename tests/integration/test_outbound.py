"""Where a source may read from: the destination policy, local files and download limits.

By default Ferry connects only to public addresses: a source on loopback (every spelling of
it), a private or link-local address (the cloud metadata address) is refused at connect time,
with a message that names the host and says how to allow it (allow_private: true, or
allow_hosts:, on the source or at the top of the config). Redirects are followed at most 5
times, and each hop meets the same check. Local files must resolve inside files_dir (by default
the config's directory), symbolic links and ".." included. A download larger than max_bytes
(counted after decompression) stops as soon as it passes the limit. A Google Sheets tab that
does not exist (a bad gid) is named as such.

Every server here is the test's own loopback server; refused connections never reach it, which
the tests check by its request log.
"""

# pgsuite: no (what a source may reach is decided before the store or a target is touched)

import gzip
import json
import os
import shutil
import tempfile

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]
CSV = csv_text(HEADER, people_rows(5))
ALLOW_HINTS = ("allow_private: true", "allow_hosts:")


class OutboundTestCase(ferrytest.FerryTestCase):
    def use(self, url, top=None, allow_private=False, **source):
        """ferry.yaml with one sync t reading url; top: extra top-level keys."""
        cfg = ferrytest.config_text({"t": sync_config(url, source=source)},
                                    allow_private=allow_private)
        if top:
            d = json.loads(cfg)
            d.update(top)
            cfg = json.dumps(d, indent=2) + "\n"
        self.write_config(cfg)

    def assert_failed(self, *fragments, first=True):
        """Runs the sync, expects exit 1; each fragment must be in stdout and in the run's
        error; a first run (first) must leave no table. Returns (stdout, run)."""
        out, _ = self.sync("t", expect=1)
        run = self.last_run()
        self.assertEqual(run["status"], "failed")
        for f in fragments:
            self.assertIn(f, out)
            self.assertIn(f, run["error"])
        if first:
            self.assertFalse(self.table_exists("people"))
        return out, run

    def assert_synced(self):
        out, _ = self.sync("t")
        self.assertIn("Processed 5 people: 5 created", out)


class DestinationPolicyTest(OutboundTestCase):
    def test_loopback_source_is_refused_by_default_with_a_clear_message(self):
        self.use(self.server.route("/people.csv", body=CSV))
        out, run = self.assert_failed("refused to connect to 127.0.0.1", "a loopback address",
                                      *ALLOW_HINTS)
        self.assertEqual(self.server.requests, [], "a refused source was connected to")

    def test_every_spelling_of_loopback_is_refused(self):
        self.server.route("/people.csv", body=CSV)
        port = self.server.port
        for host in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1", "[::ffff:7f00:1]",
                     "[::ffff:127.0.0.1]", "[::1]"):
            with self.subTest(host=host):
                self.use("http://%s:%d/people.csv" % (host, port))
                self.assert_failed("refused to connect to", "a loopback address", *ALLOW_HINTS)
        self.assertEqual(self.server.requests, [], "a refused source was connected to")

    def test_a_name_that_resolves_to_loopback_is_refused(self):
        # The check is on the address the name resolved to, not on the URL's text.
        self.server.route("/people.csv", body=CSV)
        self.use("http://localhost:%d/people.csv" % self.server.port)
        self.assert_failed("refused to connect to localhost (", "a loopback address",
                           "'localhost' under allow_hosts:")
        self.assertEqual(self.server.requests, [])

    def test_cloud_metadata_and_private_addresses_are_refused(self):
        for url, kind in (("http://169.254.169.254/latest/meta-data/", "a link-local address"),
                          ("http://10.0.0.1/x.csv", "a private address"),
                          ("http://192.168.0.1/x.csv", "a private address"),
                          ("http://100.64.0.1/x.csv", "a shared"),
                          ("http://[fd00::1]/x.csv", "a unique-local address"),
                          ("http://0.0.0.0:1/x.csv", "an unspecified address")):
            with self.subTest(url=url):
                self.use(url)
                self.assert_failed("refused to connect to", kind, *ALLOW_HINTS)

    def test_rest_source_on_loopback_is_refused_by_default(self):
        url = self.server.route("/api", body='{"items": []}',
                                headers={"Content-Type": "application/json"})
        self.write_config("database: sqlite:ferry.db\n"
                          "syncs:\n"
                          "  t:\n"
                          "    source: { kind: rest, url: \"%s\", records: /items }\n"
                          "    target: { table: people, key: id }\n"
                          "    fields: { id: {}, name: {} }\n" % url)
        self.assert_failed("refused to connect to 127.0.0.1", *ALLOW_HINTS)
        self.assertEqual(self.server.requests, [])

    def test_allow_private_at_the_top_level_opens_loopback(self):
        self.use(self.server.route("/people.csv", body=CSV), allow_private=True)
        self.assert_synced()

    def test_allow_private_on_the_source_opens_loopback(self):
        url = self.server.route("/people.csv", body=CSV)
        self.write_config(ferrytest.config_text(
            {"t": sync_config(url, source={"allow_private": True})}, allow_private=False))
        self.assert_synced()

    def test_allow_hosts_by_address_at_the_top_level(self):
        self.use(self.server.route("/people.csv", body=CSV), top={"allow_hosts": ["127.0.0.1"]})
        self.assert_synced()

    def test_allow_hosts_by_name_on_the_source(self):
        self.server.route("/people.csv", body=CSV)
        self.use("http://localhost:%d/people.csv" % self.server.port,
                 allow_hosts=["LocalHost"])
        self.assert_synced()

    def test_allow_hosts_lists_only_the_hosts_it_names(self):
        self.server.route("/people.csv", body=CSV)
        self.use("http://127.0.0.1:%d/people.csv" % self.server.port,
                 top={"allow_hosts": ["localhost", "10.0.0.1"]})
        self.assert_failed("refused to connect to 127.0.0.1", "'127.0.0.1' under allow_hosts:")
        self.assertEqual(self.server.requests, [])

    def test_redirect_from_an_allowed_host_to_a_refused_address_is_refused(self):
        self.server.route("/final.csv", body=CSV)
        self.server.route("/start", redirect=self.server.url("/final.csv"))  # 127.0.0.1
        self.use("http://localhost:%d/start" % self.server.port, allow_hosts=["localhost"])
        self.assert_failed("refused to connect to 127.0.0.1", *ALLOW_HINTS)
        self.assertEqual([r["path"] for r in self.server.requests], ["/start"],
                         "the redirect's target was connected to")

    def test_five_redirects_are_followed_and_a_sixth_is_refused(self):
        self.server.route("/final.csv", body=CSV)
        for i in range(1, 7):
            self.server.route("/r%d" % i, redirect="/r%d" % (i + 1) if i < 6 else "/final.csv")
        self.use(self.server.url("/r2"), allow_private=True)  # r2..r6: 5 redirects
        self.assert_synced()
        self.use(self.server.url("/r1"), allow_private=True)  # r1..r6: 6 redirects
        self.server.requests.clear()
        self.assert_failed("redirected more than 5 times", first=False)
        self.assertNotIn("/final.csv", [r["path"] for r in self.server.requests])

    def test_proxy_from_the_environment_is_not_used(self):
        self.use(self.server.route("/people.csv", body=CSV), allow_private=False)
        env = {"http_proxy": "http://1.2.3.4:3128", "HTTP_PROXY": "http://1.2.3.4:3128",
               "ALL_PROXY": "http://1.2.3.4:3128"}
        code, out, _ = self.run_ferry("sync", "t", env=self.ferry_env(env))
        self.assertEqual(code, 1)
        self.assertIn("refused to connect to 127.0.0.1", out)


class LocalFilesTest(OutboundTestCase):
    def outside_dir(self):
        d = tempfile.mkdtemp(prefix="ferry-outside-")
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d

    def test_file_url_outside_files_dir_is_refused(self):
        self.use("file:///etc/passwd")
        out, run = self.assert_failed("outside files_dir")
        self.assertNotIn("root:", out)
        self.assertNotIn("root:", run["error"])

    def test_dotdot_escape_is_refused(self):
        self.use("../../../../../../../../etc/passwd")
        out, _ = self.assert_failed("outside files_dir")
        self.assertNotIn("root:", out)

    def test_symlink_out_of_files_dir_is_refused(self):
        outside = self.outside_dir()
        with open(os.path.join(outside, "people.csv"), "w") as f:
            f.write(CSV)
        os.symlink(os.path.join(outside, "people.csv"), self.path("people.csv"))
        self.use("people.csv")
        self.assert_failed("outside files_dir")
        os.remove(self.path("people.csv"))
        os.symlink(outside, self.path("data"))  # a linked directory on the way
        self.use("data/people.csv")
        self.assert_failed("outside files_dir")

    def test_missing_file_outside_files_dir_says_outside_not_missing(self):
        self.use("file:///nonexistent-ferry-dir/people.csv")
        out, _ = self.assert_failed("outside files_dir")
        self.assertNotIn("No such file", out)

    def test_dangling_link_out_of_files_dir_says_outside_not_missing(self):
        # A link inside files_dir to a file elsewhere that does not exist, or through a linked
        # directory that does not exist, gets the message of one that does: the error must
        # not tell which files exist outside.
        os.symlink("/nonexistent-ferry-dir/people.csv", self.path("people.csv"))
        self.use("people.csv")
        out, _ = self.assert_failed("outside files_dir")
        self.assertNotIn("No such file", out)
        os.symlink("/nonexistent-ferry-dir", self.path("data"))
        self.use("data/people.csv")
        out, _ = self.assert_failed("outside files_dir")
        self.assertNotIn("No such file", out)
        # A link to a missing file inside files_dir is just missing.
        os.symlink("absent.csv", self.path("inside.csv"))
        self.use("inside.csv")
        self.assert_failed("No such file")

    def test_files_beside_the_config_and_inside_files_dir_are_read(self):
        self.write_file("people.csv", CSV)
        self.use("people.csv")
        self.assert_synced()
        outside = self.outside_dir()
        with open(os.path.join(outside, "people.csv"), "w") as f:
            f.write(CSV)
        self.use("file://" + os.path.join(outside, "people.csv"), top={"files_dir": outside})
        out, _ = self.sync("t")
        self.assertIn("5 unchanged", out)
        self.use("people.csv", top={"files_dir": outside})  # beside the config, outside
        self.assert_failed("outside files_dir", first=False)

    def test_files_dir_that_is_not_a_directory_is_a_config_error(self):
        self.use("people.csv", top={"files_dir": "nope"})
        code, out, err = self.run_ferry("sync", "t")
        self.assertNotEqual(code, 0)
        self.assertIn("files_dir", out + err)
        self.assertIn("is not a directory", out + err)

    def test_header_error_does_not_quote_an_unexpected_first_line(self):
        self.write_file("people.csv", "root:x:0:0:root:/root:/bin/bash\n"
                                      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
        self.use("people.csv")
        out, run = self.assert_failed("none of the mapped columns", "'id'")
        for text in (out, run["error"], run["log_message"] or ""):
            self.assertNotIn("root:x", text)
            self.assertNotIn("/bin/bash", text)

    def test_check_does_not_list_an_unexpected_first_line(self):
        self.write_file("people.csv", "root:x:0:0:root:/root:/bin/bash\n")
        self.use("people.csv")
        code, out, err = self.run_ferry("check", "t")
        self.assertNotIn("root:x", out + err)
        self.assertIn("id", out)

    def test_header_error_of_the_expected_csv_lists_its_columns(self):
        self.write_file("people.csv", csv_text(["id", "name", "mail"], [["1", "a", "b"]]))
        self.use("people.csv")
        self.assert_failed("missing required columns: 'email'", "'mail'")


class MaxBytesTest(OutboundTestCase):
    def test_endless_body_stops_at_max_bytes(self):
        def endless():
            yield "id,name,email\n"
            row = "".join("P%07d,Person,p@example.com\n" % i for i in range(1000))
            while True:
                yield row
        self.use(self.server.route("/endless.csv", body=endless), allow_private=True,
                 max_bytes="1MiB")
        self.assert_failed("larger than max_bytes (1 MiB")

    def test_gzip_bomb_stops_at_max_bytes(self):
        big = "id,name,email\n" + "P0000001,Person,p@example.com\n" * (64 * 1024 * 1024 // 30)
        bomb = gzip.compress(big.encode(), compresslevel=9)
        self.assertLess(len(bomb), 1024 * 1024)  # small on the wire, 64 MiB inflated
        self.use(self.server.route("/bomb.csv", body=bomb, headers={"Content-Encoding": "gzip"}),
                 allow_private=True, max_bytes="4MiB")
        self.assert_failed("larger than max_bytes (4 MiB", "counted after decompression")

    def test_stacked_encodings_stop_at_max_bytes_and_never_end_the_file_early(self):
        # gzip inside gzip inflates in bursts larger than what Ferry buffers before it pauses
        # the transfer; the limit met while libcurl delivers what it held back must still
        # fail the run, not end the download early as if the file stopped there.
        body = csv_text(HEADER, people_rows(20000)).encode()
        wire = gzip.compress(gzip.compress(body, compresslevel=9), compresslevel=9)
        self.use(self.server.route("/people.csv", body=wire,
                                   headers={"Content-Encoding": "gzip, gzip"}),
                 allow_private=True, max_bytes="700000")
        self.assert_failed("larger than max_bytes (700000 bytes", "counted after decompression")

    def test_body_within_max_bytes_is_read(self):
        self.use(self.server.route("/people.csv", body=gzip.compress(CSV.encode()),
                                   headers={"Content-Encoding": "gzip"}),
                 allow_private=True, max_bytes=str(len(CSV)))
        self.assert_synced()

    def test_max_bytes_is_validated(self):
        self.use("people.csv", max_bytes="lots")
        code, out, err = self.run_ferry("sync", "t")
        self.assertNotEqual(code, 0)
        self.assertIn("source.max_bytes", out + err)


class GoogleSheetsTest(OutboundTestCase):
    def test_bad_gid_says_the_tab_was_not_found(self):
        page = (b"<!DOCTYPE html><html><head><title>Error 400 (Bad Request)</title></head>"
                b"<body><p>400. That's an error.</p></body></html>")
        url = self.server.route("/spreadsheets/d/SHEETID/export", status=400, body=page,
                                headers={"Content-Type": "text/html; charset=utf-8"})
        self.use(url + "?format=csv&gid=123456", allow_private=True)
        out, run = self.assert_failed("the tab (gid 123456) was not found")
        self.assertNotIn("That's an error", out)


if __name__ == "__main__":
    ferrytest.main()
