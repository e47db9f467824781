"""Configuration from the environment (docs/config.md, "From the environment") and `ferry
config` (docs/cli.md): ${VAR} and ${VAR:-default} in values, DATABASE_URL and PORT standing in
for database: and listen: when the file leaves them out, and the effective config printed with
its defaults and its secrets masked.

The config files here are written as they are (not through write_file(), which names the
PostgreSQL database in every config of the pgsuite run): on PostgreSQL the test's database
reaches Ferry through DATABASE_URL or a ${VAR} reference instead.
"""

import os
import time
import urllib.request

import ferrytest
from ferrytest import closed_port, read_line_until

SECRET = "pw-never-shown-5c1e"
TOKEN = "metrics-token-never-shown-9f2a"


class ConfigEnvTest(ferrytest.FerryTestCase):
    def write_raw(self, text, name="ferry.yaml"):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        return self.path(name)

    def sqlite_or_pg(self, sqlite_url):
        """sqlite_url, or on PostgreSQL the test's own database."""
        return self.database if ferrytest.ON_POSTGRES else sqlite_url

    def config_text(self):
        self.write_file("people.csv", "id,name\n1,Ann\n2,Bob\n")
        return ("metrics_token: ${FERRY_IT_TOKEN}\n"                       # 1
                "workers: ${FERRY_IT_WORKERS:-3}\n"                        # 2
                "database: ${FERRY_IT_DB}\n"                               # 3
                "syncs:\n"                                                 # 4
                "  people:\n"                                              # 5
                "    title: ${FERRY_IT_TITLE:-People} $${not a variable}\n"  # 6
                "    source: {url: '${FERRY_IT_CSV}'}\n"                   # 7
                "    target: {table: people, key: id}\n"                   # 8
                "    fields: {id: {type: integer}, name: {}}\n")           # 9

    def env(self, **extra):
        env = {"FERRY_IT_TOKEN": TOKEN, "FERRY_IT_CSV": "people.csv",
               "FERRY_IT_DB": self.sqlite_or_pg("sqlite:ferry.db"), "FERRY_IT_WORKERS": None,
               "FERRY_IT_TITLE": "", "DATABASE_URL": None, "PORT": None}
        env.update(extra)
        return env

    def test_config_prints_the_expanded_config_with_defaults_and_masks_secrets(self):
        self.write_raw(self.config_text())
        code, out, err = self.run_ferry("config", env=self.env())
        self.assertEqual(code, 0, err)
        lines = out.splitlines()
        self.assertIn('metrics_token: "********"', lines)
        self.assertIn("workers: 3", lines)
        self.assertIn("    title: People $${not a variable}", lines)
        self.assertIn("      url: people.csv", lines)
        self.assertIn("listen: 127.0.0.1:8080  # default", lines)
        self.assertIn("lease: 5m  # default", lines)
        self.assertIn("# smtp: not set", lines)
        self.assertNotIn(TOKEN, out + err)
        # what it prints is a config: ferry check takes it as it is (but for the mask)
        self.write_raw(out.replace('"********"', TOKEN), "shown.yaml")
        code, out2, err2 = self.run_ferry("check", "--config", "shown.yaml", env=self.env())
        self.assertEqual(code, 0, err2)
        self.assertIn("OK, 1 sync (people)", out2)

    def test_a_password_in_a_database_url_from_the_environment_is_masked(self):
        self.write_raw("workers: 2\n")
        url = "postgres://ferry:%s@db.internal:5432/ferry" % SECRET
        code, out, err = self.run_ferry("config", env=self.env(DATABASE_URL=url, PORT="8123"))
        self.assertEqual(code, 0, err)
        self.assertIn("database: postgres://ferry:********@db.internal:5432/ferry  "
                      "# from DATABASE_URL", out.splitlines())
        self.assertIn("listen: 0.0.0.0:8123  # from PORT", out.splitlines())
        self.assertNotIn(SECRET, out + err)

    def test_check_and_config_name_an_unset_variable_with_file_line_and_key(self):
        self.write_raw(self.config_text())
        for command in ("config", "check", "sync"):
            code, out, err = self.run_ferry(command, *(["people"] if command == "sync" else []),
                                            env=self.env(FERRY_IT_CSV=None))
            self.assertEqual(code, 2, out + err)
            self.assertIn("ferry: ferry.yaml:7: syncs.people.source.url: ${FERRY_IT_CSV} is not "
                          "set and has no default", err)
        code, out, err = self.run_ferry("check", env=self.env())
        self.assertEqual(code, 0, err)

    def test_sync_reads_the_expanded_values(self):
        self.write_raw(self.config_text())
        code, out, err = self.run_ferry("sync", "people", env=self.env(FERRY_IT_TITLE="Staff"))
        self.assertEqual(code, 0, out + err)
        self.assertEqual(sorted(self.query("SELECT id, name FROM people")),
                         [(1, "Ann"), (2, "Bob")])

    def test_an_invalid_port_is_a_config_error_naming_the_variable(self):
        self.write_raw("workers: 2\n")
        code, out, err = self.run_ferry("check", env=self.env(PORT="http"))
        self.assertEqual(code, 2, out + err)
        self.assertIn("ferry: ferry.yaml: the environment variable PORT (used as the port of "
                      "listen:) is not a port number from 1 to 65535", err)

    def test_serve_listens_on_port_and_keeps_its_data_in_database_url(self):
        # No database: or listen: in the file: both come from the environment. PORT listens
        # on every interface, as platforms that set it expect; the test talks to loopback.
        self.write_raw("workers: 1\n")
        port = closed_port()
        url = self.sqlite_or_pg("sqlite:from-env.db")
        proc = self.start_ferry("serve", env=self.env(DATABASE_URL=url, PORT=str(port)))
        line, seen, _ = read_line_until(
            proc.stdout, lambda l: l.startswith("Ferry is listening on"),
            time.monotonic() + 30)
        if line is None:
            proc.kill()
            self.fail("no listening line: %r %r" % (seen, proc.stderr.read()))
        self.assertEqual(line.strip(), "Ferry is listening on http://0.0.0.0:%d/ (Ctrl-C stops "
                         "it)" % port)
        for _ in range(200):
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port,
                                            timeout=5) as r:
                    self.assertEqual(r.status, 200)
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.fail("GET /healthz did not answer")
        proc.terminate()
        proc.wait(timeout=60)
        if ferrytest.ON_POSTGRES:
            self.assertEqual(self.query("SELECT count(*) FROM ferry_runs"), [(0,)])
        else:
            self.assertTrue(os.path.exists(self.path("from-env.db")))
            self.assertFalse(os.path.exists(self.path("ferry.db")))


if __name__ == "__main__":
    ferrytest.main()
