#!/usr/bin/python3
"""ferry user: adding, listing, changing passwords and disabling the people who may use the
server, from the command line; passwords stored as Argon2id hashes only."""
import subprocess

import ferrytest
from ferrytest import sync_config


class AccountsTestCase(ferrytest.FerryTestCase):
    """A config with one sync, and ferry run with text on standard input."""

    def setUp(self):
        super().setUp()
        self.write_config({"t": sync_config("people.csv")})

    def ferry(self, *args, password=None):
        p = subprocess.run([ferrytest.FERRY_BIN, *args, "--config", self.path("ferry.yaml")],
                           input=password, capture_output=True, text=True, timeout=60,
                           cwd=self.dir)
        return p.returncode, p.stdout, p.stderr


class UserCommandsTest(AccountsTestCase):
    def user(self, *args, password=None):
        return self.ferry("user", *args, password=password)

    def test_add_list_passwd_disable_enable(self):
        code, out, err = self.user("add", "ana", "--role", "admin", "--password-stdin",
                                   password="a long secret\n")
        self.assertEqual(code, 0, err)
        self.assertIn("User ana added as admin.", out)
        code, out, _ = self.user("list")
        self.assertEqual(code, 0)
        self.assertRegex(out, r"ana\s+admin\s+active")
        (stored,) = self.query("SELECT password_hash FROM ferry_users WHERE name = 'ana'")
        self.assertTrue(stored[0].startswith("$argon2id$"))
        self.assertNotIn("a long secret", stored[0])

        code, out, err = self.user("passwd", "ana", "--password-stdin",
                                   password="another secret\n")
        self.assertEqual(code, 0, err)
        (changed,) = self.query("SELECT password_hash FROM ferry_users WHERE name = 'ana'")
        self.assertNotEqual(changed[0], stored[0])

        self.assertEqual(self.user("disable", "ana")[0], 0)
        self.assertRegex(self.user("list")[1], r"ana\s+admin\s+disabled")
        self.assertEqual(self.user("enable", "ana")[0], 0)
        self.assertRegex(self.user("list")[1], r"ana\s+admin\s+active")

    def test_bad_input_is_refused_with_a_reason(self):
        cases = [
            (("add", "bo", "--password-stdin"), "long enough\n", "needs --role"),
            (("add", "bo", "--role", "root", "--password-stdin"), "long enough\n", "needs --role"),
            (("add", "bo b", "--role", "viewer", "--password-stdin"), "long enough\n",
             "not a valid user name"),
            (("add", "bo", "--role", "viewer", "--password-stdin"), "short\n", "at least 8"),
            (("add", "bo", "--role", "viewer"), "", "not a terminal"),
            (("passwd", "nobody", "--password-stdin"), "long enough\n", "no user named"),
            (("disable", "nobody"), None, "no user named"),
            (("frobnicate",), None, "user takes add, list"),
        ]
        for args, password, message in cases:
            code, _, err = self.user(*args, password=password)
            self.assertEqual(code, 2, (args, err))
            self.assertIn(message, err, args)
        self.user("add", "bo", "--role", "viewer", "--password-stdin", password="long enough\n")
        code, _, err = self.user("add", "BO", "--role", "admin", "--password-stdin",
                                 password="long enough\n")
        self.assertEqual(code, 2)
        self.assertIn("already exists", err)


class TokenCommandsTest(AccountsTestCase):
    def test_a_token_is_shown_once_stored_hashed_and_can_be_revoked(self):
        import hashlib
        import re
        self.ferry("user", "add", "app", "--role", "operator", "--password-stdin",
                   password="long enough\n")
        code, out, err = self.ferry("token", "create", "--user", "app", "--name", "backend")
        self.assertEqual(code, 0, err)
        token = re.search(r"^(fy_[A-Za-z0-9_-]{43})$", out, re.M).group(1)
        (row,) = self.query("SELECT label, token_hash FROM ferry_api_tokens")
        self.assertEqual(row[0], "backend")
        self.assertEqual(row[1], hashlib.sha256(token.encode()).hexdigest())
        code, out, _ = self.ferry("token", "list")
        self.assertRegex(out, r"1\s+app\s+backend\s+active")
        self.assertNotIn(token, out)
        self.assertEqual(self.ferry("token", "revoke", "1")[0], 0)
        self.assertRegex(self.ferry("token", "list")[1], r"1\s+app\s+backend\s+revoked")
        code, _, err = self.ferry("token", "revoke", "1")
        self.assertEqual(code, 2)
        self.assertIn("no active token 1", err)

    def test_token_for_an_unknown_user_or_bad_id_is_refused(self):
        code, _, err = self.ferry("token", "create", "--user", "nobody")
        self.assertEqual(code, 2)
        self.assertIn("no user named 'nobody'", err)
        self.assertEqual(self.ferry("token", "create")[0], 2)
        code, _, err = self.ferry("token", "revoke", "x")
        self.assertEqual(code, 2)
        self.assertIn("not a token id", err)


if __name__ == "__main__":
    ferrytest.main()
