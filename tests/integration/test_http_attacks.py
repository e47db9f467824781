#!/usr/bin/python3
"""`ferry serve` under attack: slow clients (slowloris) and the connection caps, request bodies
past max_body as they arrive, bare CR in headers, password guessing that must slow only the
guesser, and trusted_proxies (docs/security.md, "The HTTP server under attack").

Several attackers are played from loopback addresses of their own (127.0.0.2, 127.0.0.3...:
Linux routes all of 127.0.0.0/8 to the loopback interface), so the server sees them as other
clients than the well-behaved one on 127.0.0.1. Every wait is a poll with a bounded deadline;
nothing asserts how long anything took.
"""

# pgsuite: no (the HTTP server and its login throttle keep nothing in the database)

import http.client
import json
import secrets
import socket
import threading
import time
import unittest

import ferrytest
from ferrytest import csv_text, people_rows, sync_config

HEADER = ["id", "name", "email"]


def connect(port, source="127.0.0.1", timeout=10):
    """A socket connected to the server from the loopback address source."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_answer(s, deadline):
    """What the server sends on s until it closes or the deadline passes: (bytes, closed)."""
    got = b""
    while time.monotonic() < deadline:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return got, False
        except OSError:
            return got, True
        if not chunk:
            return got, True
        got += chunk
    return got, False




def exchange(port, data, source="127.0.0.1", timeout=10):
    """Sends data (Connection: close is the caller's) and returns the parsed answer."""
    s = connect(port, source, timeout)
    try:
        s.sendall(data)
        got, _ = read_answer(s, time.monotonic() + timeout)
    finally:
        s.close()
    return ferrytest.ApiResponse.parse(got)


class AttackTestCase(ferrytest.FerryTestCase):
    def write_serve_config(self, **top):
        self.write_csv("people.csv", HEADER, people_rows(3))
        cfg = {"database": "sqlite:ferry.db"}
        cfg.update(top)
        cfg["syncs"] = {"t": sync_config("people.csv")}
        self.write_config(json.dumps(cfg, indent=2) + "\n")

    def assert_error(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(r.json.get("error", {}).get("code"), code, r)


# ---- slow clients and the connection caps ----

class SlowClient(threading.Thread):
    """An attacker connection kept open the slowloris way: from source, a request line and
    then one header line every `pause` seconds, never the blank line that ends the headers;
    reconnects whenever the server closes it, until stop() (or `seconds`). Counts its
    connections and the ones the server closed."""

    def __init__(self, port, source, pause=1.0, seconds=60):
        super().__init__(daemon=True)
        self.port, self.source, self.pause, self.seconds = port, source, pause, seconds
        self.connected = 0     # connections made
        self.closed = 0        # of those, closed by the server
        self.open = False      # one is open now
        self.stopping = threading.Event()

    def run(self):
        end = time.monotonic() + self.seconds
        while not self.stopping.is_set() and time.monotonic() < end:
            try:
                s = connect(self.port, self.source, timeout=5)
            except OSError:
                self.stopping.wait(0.2)
                continue
            self.connected += 1
            self.open = True
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                while not self.stopping.is_set() and time.monotonic() < end:
                    # A closed connection shows as the end of the stream (or a reset).
                    s.settimeout(self.pause)
                    try:
                        if not s.recv(4096):
                            break
                    except socket.timeout:
                        pass
                    s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass
            finally:
                self.open = False
                self.closed += 0 if self.stopping.is_set() else 1
                s.close()

    def stop(self):
        self.stopping.set()
        self.join(timeout=10)


def trickle_until_closed(s, piece, seconds):
    """Sends piece on s once a second until the server closes s (True) or `seconds` pass
    (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        s.settimeout(1.0)
        try:
            if not s.recv(4096):
                return True
        except socket.timeout:
            try:
                s.sendall(piece)
            except OSError:
                return True
        except OSError:
            return True
    return False


class SlowClientTest(AttackTestCase):

    def test_headers_that_trickle_in_are_cut_off_at_the_deadline(self):
        self.write_serve_config()
        with self.serve() as srv:
            # One header line a second: libmicrohttpd's idle timeout never fires, the
            # request deadline (10 s for the whole head) does. The test allows 25 s.
            s = connect(srv.port, "127.0.0.2")
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                self.assertTrue(trickle_until_closed(s, b"X-Slow: 1\r\n", 25),
                                "a request head trickling in was never cut off")
            finally:
                s.close()
            self.assertEqual(srv.get("/healthz").status, 200)
            srv.wait_log('msg="connections closed" too_slow=')

    def test_a_body_slower_than_the_minimum_rate_is_cut_off(self):
        self.write_serve_config()
        with self.serve() as srv:
            auth = "".join("%s: %s\r\n" % kv for kv in srv.auth_headers().items())
            s = connect(srv.port, "127.0.0.2")
            try:
                s.sendall(("POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n%s"
                           "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                           % auth).encode())
                # One byte a second: far below 1 KiB/s once the first 10 s have passed.
                self.assertTrue(trickle_until_closed(s, b" ", 25),
                                "a body trickling in was never cut off")
            finally:
                s.close()
            self.assertEqual(srv.get_json("/api/runs")["runs"], [])

    def test_a_well_behaved_client_is_served_while_slow_clients_hold_connections(self):
        # A scaled-down slowloris: 32 connections at most, 8 per address; five attacking
        # addresses try 10 slow connections each, and reconnect whenever one is closed.
        self.write_serve_config(max_connections=32, max_connections_per_ip=8)
        with self.serve() as srv:
            attackers = [SlowClient(srv.port, "127.0.0.%d" % (2 + i // 10))
                         for i in range(50)]
            for a in attackers:
                a.start()
            try:
                # Wait until the attack holds at least as many connections as the cap.
                deadline = time.monotonic() + 15
                while (sum(a.open for a in attackers) < 32
                       and time.monotonic() < deadline):
                    time.sleep(0.05)
                # Every request of the well-behaved client is answered, each on a new
                # connection, while the attack goes on.
                for i in range(10):
                    path = "/healthz" if i % 2 == 0 else "/api/syncs"
                    r = exchange(srv.port, ("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: "
                                            "close\r\n\r\n" % (path, "".join(
                                                "%s: %s\r\n" % kv
                                                for kv in srv.auth_headers().items()))).encode())
                    self.assertEqual(r.status, 200, "request %d during the attack: %r" % (i, r))
                # The attack really held the connections it was meant to.
                self.assertGreaterEqual(sum(a.connected for a in attackers), 32)
            finally:
                for a in attackers:
                    a.stopping.set()
                for a in attackers:
                    a.join(timeout=10)
            self.assertEqual(srv.get("/healthz").status, 200)


# ---- request bodies and header lines ----

class BodyAndHeaderTest(AttackTestCase):
    def test_a_chunked_body_is_refused_with_413_as_soon_as_it_passes_max_body(self):
        self.write_serve_config(max_body="4KiB")
        with self.serve() as srv:
            auth = "".join("%s: %s\r\n" % kv for kv in srv.auth_headers().items())
            s = connect(srv.port)
            try:
                s.sendall(("POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n%s"
                           "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                           % auth).encode())
                # A body without end, in 64 KiB chunks. The server must answer once about
                # 4 KiB are in and close the connection, so the client's sends fail once the
                # socket buffers between them (a few MiB at most) are full. A server that
                # read on would take all 128 MiB.
                piece = b"10000\r\n" + b" " * 65536 + b"\r\n"
                sent, answer, closed = 0, b"", False
                while sent < 128 * 1024 * 1024 and not closed:
                    s.settimeout(10)
                    try:
                        s.sendall(piece)
                        sent += 65536
                    except OSError:
                        break  # closed by the server
                    s.settimeout(0)
                    try:
                        chunk = s.recv(65536)
                        answer += chunk
                        closed = not chunk
                    except (BlockingIOError, socket.timeout):
                        pass
                    except OSError:
                        closed = True
                s.settimeout(10)
                more, closed_after = read_answer(s, time.monotonic() + 10)
                answer += more
            finally:
                s.close()
            self.assertLess(sent, 64 * 1024 * 1024, "the server read on past max_body")
            r = ferrytest.ApiResponse.parse(answer)
            self.assert_error(r, 413, "too_large")
            self.assertIn("4096 bytes", r.json["error"]["message"])
            self.assertTrue(closed or closed_after, "the connection stayed open after the 413")
            # Nothing was queued, and the server goes on serving.
            self.assertEqual(srv.get_json("/api/runs")["runs"], [])
            self.assertEqual(srv.get("/healthz").status, 200)
            self.assertIn(b'ferry_http_requests_total{route="/api/syncs/{name}/runs",code="413"} 1',
                          srv.get("/metrics").body)

    def test_a_chunked_body_within_max_body_is_taken(self):
        self.write_serve_config(max_body="4KiB")
        with self.serve() as srv:
            body = b"{" + b" " * 4000 + b"}"
            chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000])
                               for i in range(0, len(body), 1000)) + b"0\r\n\r\n"
            r = srv.raw("POST /api/syncs/t/runs HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/json\r\nTransfer-Encoding: chunked", chunked)
            self.assertEqual(r.status, 202, r)

    def test_header_values_with_a_bare_cr_are_refused_with_400(self):
        self.write_serve_config()
        with self.serve() as srv:
            auth = "".join("%s: %s\r\n" % kv for kv in srv.auth_headers().items()).encode()
            for what, head in (
                    ("a CR inside a value", b"X-Note: a\rb\r\n"),
                    ("a CR before another header", b"X-Note: a\rX-Forwarded-For: 10.0.0.1\r\n"),
                    ("a CR in the Host line", b"X-Note: ok\r\nX-Other: v\r\r\n"),
                    ("a CR in the token", b"Authorization: Bearer fy_x\rfy_y\r\n")):
                for path, extra in (("/healthz", b""), ("/api/syncs", auth)):
                    r = exchange(srv.port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                                 + extra + head + b"Connection: close\r\n\r\n")
                    self.assert_error(r, 400, "bad_request")
                    self.assertIn("carriage return", r.json["error"]["message"], what)
            # A CR that ends its line (CRLF) is what every request has; a bare LF ending a
            # line is allowed by RFC 9112 and taken.
            r = exchange(srv.port, b"GET /api/syncs HTTP/1.1\r\nHost: x\r\n" + auth
                         + b"X-Note: fine\nConnection: close\r\n\r\n")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(srv.get("/healthz").status, 200)


# ---- password guessing slows only the guesser ----

def login(port, user, password, source="127.0.0.1", headers=None):
    """POST /api/login from the loopback address source: (status, Retry-After, JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                      source_address=(source, 0))
    try:
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        conn.request("POST", "/api/login", json.dumps({"user": user, "password": password}), h)
        r = conn.getresponse()
        body = r.read()
        return r.status, r.getheader("Retry-After"), json.loads(body) if body else None
    finally:
        conn.close()


def burst(port, attempts, source="127.0.0.1", threads=40, headers=None):
    """Sends the (user, password) attempts as logins from source, threads at a time; returns
    their statuses."""
    statuses, lock = [], threading.Lock()
    todo = list(attempts)

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                user, password = todo.pop()
            try:
                status = login(port, user, password, source, headers)[0]
            except OSError as e:
                status = repr(e)
            with lock:
                statuses.append(status)
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    return statuses


class LoginThrottleTest(AttackTestCase):
    def wait_for_login(self, port, user, password, source):
        """Logs in from source until its lock ends: an answer is 200, or 429 with a short
        Retry-After (at most 30 s, the cap of an address's lock), and a login within the
        first Retry-After plus a margin succeeds."""
        status, retry, body = login(port, user, password, source)
        if status == 429:
            self.assertLessEqual(int(retry), 30, "an address was locked for %s s" % retry)
            deadline = time.monotonic() + int(retry) + 10
            while status == 429 and time.monotonic() < deadline:
                time.sleep(0.2)
                status, retry, body = login(port, user, password, source)
                if status == 429:
                    self.assertLessEqual(int(retry), 30)
        self.assertEqual(status, 200, body)

    def test_a_flood_of_made_up_names_from_one_address_slows_only_that_address(self):
        self.write_serve_config()
        pw = self.make_user("boss", "admin")
        with self.serve() as srv:
            # 200 logins with random names from 127.0.0.2, 40 at a time.
            statuses = burst(srv.port, [("u" + secrets.token_hex(6), "guess %d" % i)
                                        for i in range(200)], source="127.0.0.2")
            self.assertEqual(len(statuses), 200)
            self.assertEqual(set(statuses) - {401, 429, 503}, set(), statuses)
            # The address got its free failures and then a lock: 20 checks plus the one that
            # locked it, whatever arrived at once (and one more for each lock, of 2 s, 4 s,
            # 8 s, that ended while a slow machine was still sending the burst).
            self.assertLessEqual(statuses.count(401), 24, statuses)
            self.assertGreater(statuses.count(429), 100, statuses)
            # The admin, from another address: at once.
            self.assertEqual(login(srv.port, "boss", pw, "127.0.0.1")[0], 200)
            # And from the guesser's address, once its short lock has passed.
            self.wait_for_login(srv.port, "boss", pw, "127.0.0.2")

    def test_guessing_the_admins_password_from_one_address_does_not_lock_the_admin_out(self):
        self.write_serve_config()
        pw = self.make_user("boss", "admin")
        with self.serve() as srv:
            statuses = burst(srv.port, [("boss", "guess %d" % i) for i in range(200)],
                             source="127.0.0.2")
            self.assertEqual(len(statuses), 200)
            # Five free failures for (127.0.0.2, boss) and the one that locked it (and one
            # more for each lock that ended while the burst was still being sent).
            self.assertLessEqual(statuses.count(401), 9, statuses)
            self.assertGreater(statuses.count(429), 150, statuses)
            # The admin, from anywhere else, logs in at once: the name's own count (20 free)
            # was not reached.
            self.assertEqual(login(srv.port, "boss", pw, "127.0.0.1")[0], 200)
            self.assertEqual(login(srv.port, "boss", pw, "127.0.0.3")[0], 200)

    def test_trusted_proxies_give_the_client_address_from_x_forwarded_for(self):
        # 127.0.0.1 plays the reverse proxy; 198.51.100.x are the clients behind it.
        self.write_serve_config(trusted_proxies=["127.0.0.1"])
        pw = self.make_user("boss", "admin")
        with self.serve() as srv:
            # 40 clients behind the proxy, one failure each: none is locked, and the proxy's
            # own address counts nothing.
            for i in range(40):
                xff = {"X-Forwarded-For": "198.51.100.%d" % (i + 10)}
                self.assertEqual(login(srv.port, "u%d" % i, "guess", headers=xff)[0], 401)
            # One client guessing: it is locked after its free failures. The right-most
            # address is the client's; what it wrote to the left of it counts for nothing.
            xff = {"X-Forwarded-For": "203.0.113.50, 198.51.100.7"}
            statuses = burst(srv.port, [("u" + secrets.token_hex(6), "guess")
                                        for _ in range(40)], headers=xff, threads=10)
            self.assertLessEqual(statuses.count(401), 24, statuses)
            self.assertIn(429, statuses)
            # Another client behind the same proxy logs in.
            self.assertEqual(login(srv.port, "boss", pw,
                                   headers={"X-Forwarded-For": "198.51.100.8"})[0], 200)
            # A client that is not a trusted proxy cannot choose its address with the header.
            spoof = {"X-Forwarded-For": "198.51.100.9"}
            self.assertEqual(login(srv.port, "nobody", "x", "127.0.0.2", spoof)[0], 401)
            clients = [e["client"] for e in
                       srv.get_json("/api/audit?action=login.failed&limit=1000")["entries"]]
            self.assertEqual(set(clients), {"198.51.100.%d" % (i + 10) for i in range(40)}
                             | {"198.51.100.7", "127.0.0.2"})
            ok = srv.get_json("/api/audit?action=login")["entries"]
            self.assertEqual(ok[0]["client"], "198.51.100.8")

    def test_without_trusted_proxies_x_forwarded_for_is_ignored(self):
        self.write_serve_config()
        pw = self.make_user("boss", "admin")
        with self.serve() as srv:
            # Every attempt claims another address: all count against 127.0.0.1.
            statuses = []
            for i in range(40):
                xff = {"X-Forwarded-For": "198.51.100.%d" % (i + 10)}
                statuses.append(login(srv.port, "u%d" % i, "guess", headers=xff)[0])
            self.assertLessEqual(statuses.count(401), 24, statuses)
            self.assertIn(429, statuses)
            self.assertEqual(login(srv.port, "boss", pw, "127.0.0.3")[0], 200)
            clients = {e["client"] for e in
                       srv.get_json("/api/audit?action=login.failed&limit=1000")["entries"]}
            self.assertEqual(clients, {"127.0.0.1"})

if __name__ == "__main__":
    ferrytest.main()
