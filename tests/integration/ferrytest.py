"""ferrytest.py - shared fixtures for Ferry's integration tests.

The tests run the real `ferry` binary as a user would: each test gets a fresh temporary
directory holding its ferry.yaml, its CSV files and its SQLite database (ferry.db), and runs
`ferry` there with a timeout. HTTP sources are served by a loopback server (127.0.0.1, a port
the OS picks) whose routes each test sets: status, headers, body (bytes or a generator,
streamed with chunked encoding), a delay before answering, a redirect, a stall, or a drip
(the body in small pieces with a pause after each, as a slow network would send it).

`ferry serve` tests use FerryTestCase.serve(): it starts the server on a free loopback port
and yields a FerryServer (a small JSON client, run polling, and event streams read from a raw
socket by SseStream); leaving the block stops the server with SIGINT and checks that it exits
with status 0, within 10 s, and without a sanitizer report. Before the first start on a
database, serve() adds an admin user (ADMIN_USER) and an API token for it with the ferry CLI;
the FerryServer sends that token (Authorization: Bearer) with every request and event stream
unless told not to (auth=False). make_user() and make_token() make more users and tokens.
Tokens are secrets even here: failure messages never show one (mask_tokens()).

Only the Python standard library is used. FERRY_BIN names the binary under test (set by
CTest); FERRY_SOURCE_ROOT the repository root (for examples/).

The same tests run against PostgreSQL when FERRY_TEST_BACKEND=postgres (CTest's pgsuite/
tests): each test then gets a fresh database on the test run's shared server (its URL is in
the file FERRY_TEST_PG_STATE names), every config written with `database: sqlite:ferry.db`
names that database instead, and query() reads it through psql. Tests about the SQLite file
itself are marked sqlite_only.
"""

import contextlib
import glob
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("FERRY_SOURCE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
FERRY_BIN = os.environ.get("FERRY_BIN", "")

# Which database Ferry's store and targets use in these tests (see the module's docstring).
BACKEND = os.environ.get("FERRY_TEST_BACKEND", "sqlite")
ON_POSTGRES = BACKEND == "postgres"


def sqlite_only(reason):
    """Skips a test (or class) when the suite runs against PostgreSQL."""
    return unittest.skipIf(ON_POSTGRES, "SQLite only: " + reason)


def pg_server_url():
    """The URL of the test run's shared PostgreSQL server (tests/pg/fixture.sh)."""
    state = os.environ.get("FERRY_TEST_PG_STATE")
    if not state or not os.path.exists(state):
        raise unittest.SkipTest("no PostgreSQL server for the tests (FERRY_TEST_PG_STATE)")
    with open(state) as f:
        return f.read().strip()


def psql(url, sql, timeout=60):
    """Runs sql with psql on url; returns its stdout (unaligned, tuples only)."""
    r = subprocess.run(["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("psql: %s\nSQL: %s" % (r.stderr.strip(), sql))
    return r.stdout


def pg_new_database():
    """A fresh, empty database on the shared server; returns its URL."""
    server = pg_server_url()
    name = "it_%d_%s" % (os.getpid(), secrets.token_hex(4))
    psql(server, "CREATE DATABASE " + name)
    return server.rsplit("/", 1)[0] + "/" + name


def pg_bindir():
    """The newest installed PostgreSQL's bin directory, or None."""
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return dirs[-1] if dirs else None


class OwnPgServer:
    """A PostgreSQL server of one test's own (tests/pg/pgtmp.sh), so stopping and starting it
    disturbs no other test; started now, removed when the test ends. url is its database's
    URL. Skips the test where PostgreSQL is not installed."""

    PGTMP = os.path.join(SOURCE_ROOT, "tests", "pg", "pgtmp.sh")

    def __init__(self, test):
        if pg_bindir() is None or not os.path.exists(self.PGTMP):
            test.skipTest("PostgreSQL is not installed")
        self.test = test
        parent = tempfile.mkdtemp(prefix="ferry-pg-")
        os.chmod(parent, 0o755)  # as root, the server runs as postgres and must reach it
        test.addCleanup(shutil.rmtree, parent, ignore_errors=True)
        self.dir = os.path.join(parent, "pg")
        r = subprocess.run(["sh", self.PGTMP, "start", self.dir], capture_output=True, text=True,
                           timeout=120)
        test.assertEqual(r.returncode, 0, "pgtmp.sh start: %s" % r.stderr.strip())
        test.addCleanup(subprocess.run, ["sh", self.PGTMP, "stop", self.dir],
                        capture_output=True, timeout=120)
        self.url = r.stdout.strip()
        with open(os.path.join(self.dir, "port")) as f:
            self.port = f.read().strip()

    def ctl(self, *args):
        cmd = [os.path.join(pg_bindir(), "pg_ctl"), "-D", os.path.join(self.dir, "data")]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=120)
        self.test.assertEqual(r.returncode, 0, r.stderr)

    def stop(self):
        self.ctl("-m", "fast", "-w", "-t", "60", "stop")

    def start(self):
        self.ctl("-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60", "-o",
                 "-h 127.0.0.1 -p %s -k %s -c fsync=off -c synchronous_commit=off"
                 % (self.port, self.dir), "start")


def sql_literal(v):
    """v as an SQL literal, for the few queries the tests make with parameters."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"


def bind_params(sql, params):
    """sql with each ? replaced by the next parameter as a literal."""
    parts = sql.split("?")
    if len(parts) - 1 != len(params):
        raise ValueError("%d placeholders, %d parameters: %s" % (len(parts) - 1, len(params), sql))
    out = [parts[0]]
    for v, rest in zip(params, parts[1:]):
        out += [sql_literal(v), rest]
    return "".join(out)


def pg_query_dicts(url, sql, params=()):
    """Rows of sql on url as dicts (column order kept), through row_to_json."""
    text = psql(url, "SELECT coalesce(json_agg(row_to_json(q)), '[]') FROM (%s) q"
                % bind_params(sql, params))
    return json.loads(text)


# Upper bound for one ferry invocation; every test is expected to finish far sooner.
DEFAULT_TIMEOUT = 30

# The admin user serve() adds, and the label of the token it makes for it.
ADMIN_USER = "tester"
ADMIN_TOKEN_LABEL = "integration-tests"

TOKEN_RE = re.compile(r"fy_[A-Za-z0-9_-]+")


def mask_tokens(text):
    """text with every API token (fy_...) replaced by fy_***, for failure messages."""
    return TOKEN_RE.sub("fy_***", text)


def auth_headers(token):
    """{"Authorization": "Bearer TOKEN"}, or {} when token is None."""
    return {"Authorization": "Bearer " + token} if token else {}


def _has_header(headers, name):
    return any(k.lower() == name.lower() for k in headers)


def _check_binary():
    if not FERRY_BIN or not os.access(FERRY_BIN, os.X_OK):
        raise unittest.SkipTest(
            "FERRY_BIN is not set to an executable ferry binary (run these tests through ctest)")


# ---- config ----

def sync_config(url, table="people", key="id", fields=None, title=None, noun=None,
                on_missing=None, allow_empty=None, skip=None, source=None):
    """One sync as a dict. fields defaults to id/name/email; source adds source keys."""
    if fields is None:
        fields = {"id": {}, "name": {}, "email": {"type": "email"}}
    src = {"url": url}
    src.update(source or {})
    target = {"table": table, "key": key if isinstance(key, list) else [key]}
    if on_missing is not None:
        target["on_missing"] = on_missing
    sync = {"source": src, "target": target, "fields": fields}
    if title is not None:
        sync["title"] = title
    if noun is not None:
        sync["noun"] = noun
    if allow_empty is not None:
        sync["allow_empty"] = allow_empty
    if skip is not None:
        sync["skip"] = skip
    return sync


def config_text(syncs, database="sqlite:ferry.db", allow_private=True):
    """A ferry.yaml for syncs (name -> dict). JSON is YAML, so the dicts are dumped as JSON
    (one key per line, so a YAML error would still point at a line). The sources of tests are
    fake servers on loopback, which Ferry refuses by default: allow_private opens them."""
    cfg = {"database": database}
    if allow_private:
        cfg["allow_private"] = True
    cfg["syncs"] = syncs
    return json.dumps(cfg, indent=2) + "\n"


def csv_text(header, rows, newline="\n"):
    """CSV text from a header list and row lists, quoting where RFC 4180 needs it."""
    def cell(v):
        v = "" if v is None else str(v)
        if any(c in v for c in ',"\r\n'):
            return '"' + v.replace('"', '""') + '"'
        return v
    lines = [",".join(cell(v) for v in header)]
    lines += [",".join(cell(v) for v in row) for row in rows]
    return newline.join(lines) + newline


def people_rows(n, start=0):
    """n rows for the default id/name/email sync."""
    return [["P%07d" % i, "Person %d" % i, "p%d@example.com" % i] for i in range(start, start + n)]


# ---- the loopback HTTP server ----

class Route:
    """What the server answers on one path.

    status, headers: the response line and headers (Content-Type defaults to text/csv).
    body: bytes, str, or a callable returning an iterable of bytes chunks (streamed with
          chunked transfer encoding and no Content-Length).
    delay: seconds to wait before answering at all.
    redirect: a path or URL; answers `status` (302 by default) with Location.
    stall_after: with a bytes body, seconds to stall after sending the headers and the first
          stall_bytes bytes (then the rest is sent, unless the server is stopping).
    drip_bytes, drip_pause: with a bytes body (and its Content-Length), send it drip_bytes at a
          time with drip_pause seconds after each piece (until the server stops).
    """

    def __init__(self, status=200, headers=None, body=b"", delay=0.0, redirect=None,
                 stall_after=None, stall_bytes=0, content_length=True, drip_bytes=0,
                 drip_pause=0.0):
        self.status = status
        self.headers = dict(headers or {})
        self.body = body
        self.delay = delay
        self.redirect = redirect
        self.stall_after = stall_after
        self.stall_bytes = stall_bytes
        self.content_length = content_length
        self.drip_bytes = drip_bytes
        self.drip_pause = drip_pause


class QuietHandler(BaseHTTPRequestHandler):
    """A fake service's request handler: logs nothing, answers with reply()."""

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test output clean
        pass

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass  # the client (ferry) went away: expected in failure tests

    def do_GET(self):
        srv = self.server.owner
        path = self.path.split("?", 1)[0]
        srv.requests.append({"path": self.path, "headers": dict(self.headers)})
        route = srv.routes.get(path)
        if route is None:
            self._send(404, {"Content-Type": "text/plain"}, b"no such route\n")
            return
        if route.delay and srv.stopping.wait(route.delay):
            return
        if route.redirect is not None:
            location = route.redirect
            if location.startswith("/"):
                location = srv.url(location)
            self._send(route.status if route.status in (301, 302, 303, 307, 308) else 302,
                       {"Location": location, "Content-Type": "text/html"},
                       b"<html><body>moved</body></html>")
            return
        headers = {"Content-Type": "text/csv; charset=utf-8"}
        headers.update(route.headers)
        body = route.body
        if callable(body):
            self._send_chunked(route.status, headers, body())
            return
        if isinstance(body, str):
            body = body.encode("utf-8")
        if route.stall_after is not None:
            self.send_response(route.status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:route.stall_bytes])
            self.wfile.flush()
            if srv.stopping.wait(route.stall_after):
                return
            self.wfile.write(body[route.stall_bytes:])
            return
        if route.drip_bytes > 0:
            self.send_response(route.status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            for pos in range(0, len(body), route.drip_bytes):
                self.wfile.write(body[pos:pos + route.drip_bytes])
                self.wfile.flush()
                if srv.stopping.wait(route.drip_pause):
                    return
            return
        self._send(route.status, headers, body, route.content_length)

    def _send(self, status, headers, body, content_length=True):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if content_length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def _send_chunked(self, status, headers, chunks):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            if self.server.owner.stopping.is_set():
                return
            if isinstance(chunk, str):
                chunk = chunk.encode("utf-8")
            if not chunk:
                continue
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 with per-test routes; stop() ends it."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def route(self, path, **kwargs):
        self.routes[path] = Route(**kwargs)
        return self.url(path)

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def stop(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def closed_port():
    """A loopback port nothing listens on (bound, then closed)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ---- ferry serve: a JSON client and an event-stream reader ----

TERMINAL_STATUSES = ("succeeded", "failed", "cancelled", "interrupted", "held", "rejected")
SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer",
                   "runtime error:")
LISTENING = re.compile(r"^Ferry is listening on http://127\.0\.0\.1:(\d+)/ \(Ctrl-C stops it\)$")


class ApiResponse:
    """One answer of the server: status, headers (header() looks one up), the raw body, and
    json: the parsed body, or None when it is not JSON."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<HTTP %d %r>" % (self.status, self.body[:400])

    @classmethod
    def parse(cls, data):
        """An ApiResponse from raw answer bytes, as read off a socket (a Content-Length body)."""
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = [tuple(x.strip() for x in line.split(":", 1)) for line in lines[1:]
                   if ":" in line]
        length = next((int(v) for k, v in headers if k.lower() == "content-length"), None)
        return cls(status, headers, rest if length is None else rest[:length])


class SseStream:
    """An event stream (text/event-stream) read from a raw socket. The constructor sends the
    request (with Authorization: Bearer token when token is given and headers has no
    Authorization of its own) and reads the status line and headers (so once it returns, the
    server has registered the stream); next_event() returns the next frame that has data, as
    a dict with id (int), event, data (the JSON parsed) and raw (the data text), or None when
    nothing came within its timeout or the stream ended. Comments and frames without data
    (retry:, heartbeats) are skipped; chunked transfer encoding is decoded."""

    def __init__(self, port, path="/api/events", headers=None, timeout=5, token=None):
        self.path = path
        headers = dict(headers or {})
        if token and not _has_header(headers, "Authorization"):
            headers.update(auth_headers(token))
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port,
                 "Accept: text/event-stream"]
        lines += ["%s: %s" % kv for kv in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        self.raw = b""     # received, not yet de-chunked
        self.body = b""    # de-chunked, not yet split into frames
        self.ended = False  # the server ended the stream or closed the connection
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._recv(deadline):
                self.close()
                raise AssertionError("no response headers for %s (got %r)" % (path, self.raw))
        head, self.raw = self.raw.split(b"\r\n\r\n", 1)
        head = head.decode("latin-1").split("\r\n")
        self.status = int(head[0].split()[1])
        self.headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()

    def _recv(self, deadline):
        """Receives what is there before the deadline; False on timeout or end."""
        left = deadline - time.monotonic()
        if left <= 0 or self.ended:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return False
        except OSError:
            data = b""
        if not data:
            self.ended = True
            return False
        self.raw += data
        return True

    def _dechunk(self):
        if not self.chunked:
            self.body += self.raw
            self.raw = b""
            return
        while True:
            eol = self.raw.find(b"\r\n")
            if eol < 0:
                return
            size = int(self.raw[:eol].split(b";")[0], 16)
            if size == 0:
                self.ended = True
                self.raw = b""
                return
            if len(self.raw) < eol + 2 + size + 2:
                return
            self.body += self.raw[eol + 2:eol + 2 + size]
            self.raw = self.raw[eol + 2 + size + 2:]

    @staticmethod
    def _parse(frame):
        ev = {"id": None, "event": "message", "data": None, "raw": None}
        data = []
        for line in frame.split("\n"):
            if not line or line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "id":
                ev["id"] = int(value)
            elif name == "event":
                ev["event"] = value
        if not data:
            return None
        ev["raw"] = "\n".join(data)
        try:
            ev["data"] = json.loads(ev["raw"])
        except ValueError:
            pass
        return ev

    def next_event(self, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            self._dechunk()
            while b"\n\n" in self.body:
                frame, self.body = self.body.split(b"\n\n", 1)
                ev = self._parse(frame.decode("utf-8"))
                if ev is not None:
                    return ev
            if not self._recv(deadline):
                return None

    def events_until(self, predicate, timeout=10):
        """Events up to and including the first for which predicate(event) is true; the
        list ends early (without a match) when the timeout passes or the stream ends."""
        deadline = time.monotonic() + timeout
        out = []
        while True:
            ev = self.next_event(max(0.0, deadline - time.monotonic()))
            if ev is None:
                return out
            out.append(ev)
            if predicate(ev):
                return out

    def wait_ended(self, timeout=5):
        """Reads (and drops) until the server ends the stream; True when it did in time."""
        deadline = time.monotonic() + timeout
        while not self.ended and time.monotonic() < deadline:
            if self.next_event(max(0.0, deadline - time.monotonic())) is None and not self.ended:
                break
        return self.ended

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _dechunk(data):
    """The body of a chunked transfer (complete or cut short)."""
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


class FerryServer:
    """A running `ferry serve` (see FerryTestCase.serve): a JSON client on its port, run
    polling, event streams, and stop()/kill(). token is the API token its requests and event
    streams send by default (None: they send none)."""

    def __init__(self, test, proc, port, token=None):
        self.test = test
        self.proc = proc
        self.port = port
        self.token = token
        self.streams = []
        self._stderr = []
        self._stderr_thread = threading.Thread(target=self._pump_stderr, daemon=True)
        self._stderr_thread.start()

    def _pump_stderr(self):
        try:
            for raw in iter(self.proc.stderr.readline, b""):
                self._stderr.append(raw.decode("utf-8", "replace"))
        except (ValueError, OSError):
            pass  # closed at cleanup

    def stderr_text(self):
        return "".join(self._stderr)

    def wait_log(self, text, timeout=15):
        """Waits until the server's log holds text (what a client sees, a closed connection
        say, can come before the line about it is written and read), and fails the test
        after timeout seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.stderr_text():
                return
            time.sleep(0.02)
        self.test.fail("no %r in the log within %ss; stderr:\n%s"
                       % (text, timeout, self.stderr_text()))

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def auth_headers(self):
        """The Authorization header the server's requests send by default, as a dict ({} when
        it has no token); for tests that write requests of their own."""
        return auth_headers(self.token)

    def request(self, method, path, body=None, headers=None, timeout=10, auth=True):
        """One request on a connection of its own; body may be bytes, str, or a dict/list
        (sent as JSON). Sends Authorization: Bearer with the server's token unless auth is
        False or headers has an Authorization of its own. Returns an ApiResponse."""
        headers = dict(headers or {})
        if auth and not _has_header(headers, "Authorization"):
            headers.update(self.auth_headers())
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            return ApiResponse(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    def raw(self, head, body=b"", timeout=10):
        """Sends head (the request line and headers, without the blank line; the server's
        Authorization header is added) and body as they are, then reads until the server
        closes or answers in full. For what http.client will not send: a body that stops
        short, a chunked body. Returns an ApiResponse."""
        text = head.rstrip("\r\n") + "\r\n"
        for k, v in self.auth_headers().items():
            text += "%s: %s\r\n" % (k, v)
        text += "Connection: close\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        data = b""
        try:
            try:
                s.sendall(text.encode("latin-1") + body)
            except OSError:
                pass  # the server may answer and close before taking the whole body
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                data += chunk
        finally:
            s.close()
        head_part, _, rest = data.partition(b"\r\n\r\n")
        lines = head_part.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = [tuple(x.strip() for x in l.split(":", 1)) for l in lines[1:] if ":" in l]
        if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
            rest = _dechunk(rest)
        return ApiResponse(status, headers, rest)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body=body, **kwargs)

    def get_json(self, path, status=200, **kwargs):
        """GET path (kwargs as for request()); checks the status and returns the JSON."""
        r = self.get(path, **kwargs)
        self.test.assertEqual(r.status, status, "GET %s: %r" % (path, r))
        return r.json

    def start_run(self, sync, status=202):
        """POST /api/syncs/SYNC/runs; checks the status and returns the run JSON."""
        r = self.post("/api/syncs/%s/runs" % sync)
        self.test.assertEqual(r.status, status, "POST run of %s: %r" % (sync, r))
        return r.json

    def wait_run(self, run_id, predicate=None, timeout=15, what="to end"):
        """Polls GET /api/runs/ID (every 30 ms, for at most timeout seconds) until
        predicate(run) holds (by default: the run ended); returns that run's JSON."""
        if predicate is None:
            def predicate(run):
                return run["status"] in TERMINAL_STATUSES
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self.get("/api/runs/%d" % run_id)
            last = r
            if r.status == 200 and predicate(r.json):
                return r.json
            time.sleep(0.03)
        self.test.fail("run %d did not come %s within %ss; last answer %r\nstderr:\n%s"
                       % (run_id, what, timeout, last, self.stderr_text()))

    def run_to_end(self, sync, status="succeeded"):
        """Starts a run of sync and waits for it to end with status; returns its JSON."""
        run = self.wait_run(self.start_run(sync)["id"])
        self.test.assertEqual(run["status"], status, run)
        return run

    def events(self, query="", headers=None, auth=True, status=200):
        """Opens GET /api/events[query] (with the server's token unless auth is False or
        headers has an Authorization of its own) and checks the answer's status; a 200 must
        be an event stream. The stream is closed at stop."""
        s = SseStream(self.port, "/api/events" + query, headers,
                      token=self.token if auth else None)
        self.streams.append(s)
        self.test.assertEqual(s.status, status)
        if status == 200:
            self.test.assertTrue(
                s.headers.get("content-type", "").startswith("text/event-stream"), s.headers)
        return s

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """Sends SIGINT and checks that ferry exits with status 0 within timeout seconds and
        without a sanitizer report. Returns the seconds it took."""
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._stderr_thread.join(timeout=5)
            self.test.fail("ferry serve did not exit within %ss of SIGINT; stderr:\n%s"
                           % (timeout, self.stderr_text()))
        elapsed = time.monotonic() - t0
        self._stderr_thread.join(timeout=5)
        err = self.stderr_text()
        self.test.assertEqual(code, 0, "ferry serve exited with %d after SIGINT; stderr:\n%s"
                              % (code, err))
        for mark in SANITIZER_MARKS:
            self.test.assertNotIn(mark, err)
        return elapsed

    def kill(self):
        """SIGKILL, and reaps the process (so its pid no longer exists)."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._stderr_thread.join(timeout=5)

    def close_streams(self):
        for s in self.streams:
            s.close()


# ---- the test case base ----

class FerryTestCase(unittest.TestCase):
    """A temporary directory per test, with helpers to write its config and CSV files, run
    ferry in it, make users and API tokens, serve, and read its database."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        _check_binary()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="ferry-it-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.config_path = os.path.join(self.dir, "ferry.yaml")
        self.db_path = os.path.join(self.dir, "ferry.db")
        self._pg_url = None  # the test's own PostgreSQL database, made on first use
        self._server = None
        # serve()'s admin token per config file (so per database): made once, kept here.
        self._admin_tokens = {}
        self.admin_token = None  # the token serve() last gave a FerryServer

    # -- files --

    def path(self, name):
        return os.path.join(self.dir, name)

    @property
    def database(self):
        """The database setting of this test's configs: sqlite:ferry.db, or on PostgreSQL a
        fresh database of the test's own."""
        if not ON_POSTGRES:
            return "sqlite:ferry.db"
        if self._pg_url is None:
            self._pg_url = pg_new_database()
        return self._pg_url

    def write_file(self, name, content):
        if ON_POSTGRES and name.endswith((".yaml", ".yml")):
            if isinstance(content, bytes):
                content = content.decode("utf-8")
            if "database" not in content:  # the default, sqlite:ferry.db
                if content.lstrip().startswith("{"):
                    content = json.dumps(dict(json.loads(content), database=self.database))
                else:
                    # At the end, so the lines errors name stay where they were.
                    content = "%s\ndatabase: %s\n" % (content.rstrip("\n"), self.database)
            content = content.replace("sqlite:ferry.db", self.database)
        p = self.path(name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)
        return p

    def write_csv(self, name, header, rows, newline="\n"):
        return self.write_file(name, csv_text(header, rows, newline))

    def write_config(self, syncs_or_text, database="sqlite:ferry.db", allow_private=True):
        """Writes ferry.yaml from raw text or a dict of syncs (allow_private: config_text())."""
        text = (syncs_or_text if isinstance(syncs_or_text, str)
                else config_text(syncs_or_text, database, allow_private))
        self.write_file("ferry.yaml", text)
        return self.config_path

    # -- running ferry --

    def ferry_env(self, extra=None):
        """The environment ferry runs with: ours without FERRY_CONFIG, USER=tester, plus
        extra (a value of None removes the variable)."""
        env = dict(os.environ)
        env.pop("FERRY_CONFIG", None)
        env["USER"] = "tester"
        env["LC_ALL"] = "C"
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def run_ferry(self, *args, timeout=DEFAULT_TIMEOUT, cwd=None, env=None, input=None):
        """Runs ferry with args in the test's directory (so ./ferry.yaml is the config), or
        in cwd, with env added to its environment and input (str or bytes) on its standard
        input (by default: none, /dev/null). Returns (exit code, stdout, stderr)."""
        if isinstance(input, str):
            input = input.encode("utf-8")
        stdin = {"stdin": subprocess.DEVNULL} if input is None else {"input": input}
        try:
            p = subprocess.run([FERRY_BIN] + list(args), cwd=cwd or self.dir,
                               env=self.ferry_env(env), capture_output=True, timeout=timeout,
                               **stdin)
        except subprocess.TimeoutExpired as e:
            self.fail("ferry %s did not finish within %ss (stderr: %r)"
                      % (" ".join(args), timeout, e.stderr))
        return (p.returncode, p.stdout.decode("utf-8", "replace"),
                p.stderr.decode("utf-8", "replace"))

    def start_ferry(self, *args, cwd=None, env=None):
        """Starts ferry in the background with stdout and stderr piped (env added to its
        environment as in run_ferry()); the process is killed at cleanup if still running."""
        p = subprocess.Popen([FERRY_BIN] + list(args), cwd=cwd or self.dir,
                             env=self.ferry_env(env), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def reap():
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(reap)
        return p

    # -- users and API tokens --

    def make_user(self, name, role="admin", password=None, config=None):
        """Adds a user with `ferry user add NAME --role ROLE --password-stdin` (with
        --config config when given) and checks it succeeded. password defaults to a random
        one; returns the password."""
        if password is None:
            password = "pw-" + secrets.token_urlsafe(12)
        extra = ["--config", config] if config is not None else []
        code, out, err = self.run_ferry("user", "add", name, "--role", role,
                                        "--password-stdin", *extra, input=password + "\n")
        self.assertEqual(code, 0, "ferry user add %s exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (name, code, out, err))
        return password

    def make_token(self, user, label="test", config=None):
        """Makes an API token for user with `ferry token create --user USER --name LABEL`
        (with --config config when given) and returns it (fy_...)."""
        extra = ["--config", config] if config is not None else []
        code, out, err = self.run_ferry("token", "create", "--user", user, "--name", label,
                                        *extra)
        m = re.search(r"^(fy_[A-Za-z0-9_-]+)$", out, re.M)
        if code != 0 or m is None:
            self.fail("ferry token create --user %s exited %d with no token line\nstdout:\n%s"
                      "\nstderr:\n%s" % (user, code, mask_tokens(out), mask_tokens(err)))
        return m.group(1)

    def _admin_token_for(self, serve_args):
        """The admin token for the config serve_args name (-c/--config, else ./ferry.yaml):
        on the first call for that config, adds ADMIN_USER and makes its token."""
        config = None
        for i, a in enumerate(serve_args):
            if a in ("-c", "--config") and i + 1 < len(serve_args):
                config = serve_args[i + 1]
            elif a.startswith("--config="):
                config = a.split("=", 1)[1]
        key = os.path.realpath(os.path.join(self.dir, config or "ferry.yaml"))
        if key not in self._admin_tokens:
            self.make_user(ADMIN_USER, "admin", config=config)
            self._admin_tokens[key] = self.make_token(ADMIN_USER, ADMIN_TOKEN_LABEL,
                                                      config=config)
        return self._admin_tokens[key]

    # -- ferry serve --

    @contextlib.contextmanager
    def serve(self, *args, timeout=10, auth=True):
        """Runs `ferry serve --listen 127.0.0.1:0 [args]` in the test's directory, reads the
        port from its 'Ferry is listening on' line, waits until GET /healthz answers 200, and
        yields a FerryServer. Leaving the block stops it with FerryServer.stop() (SIGINT, exit
        status 0 within 10 s, no sanitizer report) unless it was already stopped or killed;
        when the block raises, the server is killed instead, so the first error is the one
        reported.

        With auth (the default), the first serve() on a config (-c/--config in args, else
        ./ferry.yaml) first adds the admin user ADMIN_USER and makes an API token for it;
        later ones on the same config reuse that token (kept in self.admin_token too). The
        FerryServer sends it with its requests and event streams. auth=False adds no user
        and gives the server no token."""
        token = self._admin_token_for(args) if auth else None
        self.admin_token = token
        proc = self.start_ferry("serve", "--listen", "127.0.0.1:0", *args)
        line, seen, _ = read_line_until(proc.stdout, LISTENING.match,
                                        time.monotonic() + timeout)
        if line is None:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            self.fail("ferry serve printed no 'listening' line within %ss; stdout: %r; "
                      "stderr:\n%s" % (timeout, seen, err.decode("utf-8", "replace")))
        server = FerryServer(self, proc, int(LISTENING.match(line).group(1)), token)
        deadline = time.monotonic() + timeout
        while True:
            try:
                if server.get("/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or not server.running():
                server.kill()
                self.fail("GET /healthz did not answer 200; stderr:\n%s" % server.stderr_text())
            time.sleep(0.02)
        ok = False
        try:
            yield server
            ok = True
        finally:
            server.close_streams()
            if server.running():
                if ok:
                    server.stop()
                else:
                    server.kill()

    def sync(self, name="t", *extra, expect=0):
        """Runs `ferry sync name` and checks its exit code; returns (stdout, stderr)."""
        code, out, err = self.run_ferry("sync", name, *extra)
        self.assertEqual(code, expect, "ferry sync %s exited %d\nstdout:\n%s\nstderr:\n%s"
                         % (name, code, out, err))
        return out, err

    # -- the database --

    def query(self, sql, params=()):
        """Rows of a query on the test's database, through a connection of its own."""
        if ON_POSTGRES:
            return [tuple(d.values()) for d in self.query_dicts(sql, params)]
        con = sqlite3.connect(self.db_path, timeout=10)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def query_dicts(self, sql, params=()):
        if ON_POSTGRES:
            return pg_query_dicts(self.database, sql, params)
        con = sqlite3.connect(self.db_path, timeout=10)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params).fetchall()]
        finally:
            con.close()

    def exec_script(self, sql):
        """Runs a script of statements (DDL, say) on the test's database, committed."""
        if ON_POSTGRES:
            r = subprocess.run(["psql", self.database, "-X", "-q", "-v", "ON_ERROR_STOP=1"],
                               input=sql, capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            return
        con = sqlite3.connect(self.db_path)
        try:
            con.executescript(sql)
            con.commit()
        finally:
            con.close()

    def db_exec(self, sql, params=()):
        """Runs a change (UPDATE, INSERT, DELETE) on the test's database and commits it;
        returns the number of rows changed."""
        if ON_POSTGRES:
            r = subprocess.run(["psql", self.database, "-X", "-v", "ON_ERROR_STOP=1", "-c",
                                bind_params(sql, params)], capture_output=True, text=True,
                               timeout=60)
            if r.returncode != 0:
                raise RuntimeError("psql: %s" % r.stderr.strip())
            return int(r.stdout.split()[-1])
        con = sqlite3.connect(self.db_path, timeout=10)
        try:
            n = con.execute(sql, params).rowcount
            con.commit()
            return n
        finally:
            con.close()

    def table_exists(self, table):
        if ON_POSTGRES:
            return bool(self.query("SELECT 1 FROM information_schema.tables WHERE table_name = ?",
                                   (table,)))
        if not os.path.exists(self.db_path):
            return False
        return bool(self.query("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                               (table,)))

    def columns(self, table):
        """The names of table's columns, in order."""
        if ON_POSTGRES:
            return [r[0] for r in self.query(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ?"
                " ORDER BY ordinal_position", (table,))]
        return [r[1] for r in self.query('SELECT * FROM pragma_table_info(?)', (table,))]

    def copy_example(self, name):
        """Copies examples/NAME into the test's directory (a config through write_file(), so
        it names the test's database)."""
        with open(os.path.join(SOURCE_ROOT, "examples", name), "rb") as f:
            return self.write_file(name, f.read())

    def table_rows(self, table, order_by=None):
        """Every row of table, as tuples, in a stable order (all columns)."""
        cols = self.columns(table)
        order = order_by or ", ".join('"%s"' % c for c in cols)
        return self.query('SELECT * FROM "%s" ORDER BY %s' % (table, order))

    def runs(self):
        return self.query_dicts("SELECT * FROM ferry_runs ORDER BY id")

    def last_run(self):
        rows = self.query_dicts("SELECT * FROM ferry_runs ORDER BY id DESC LIMIT 1")
        self.assertTrue(rows, "no run was recorded")
        return rows[0]

    def changes(self, run_id):
        return self.query_dicts("SELECT * FROM ferry_changes WHERE run_id=? ORDER BY seq",
                                (run_id,))

    # -- HTTP --

    def gated_csv_route(self, path, header, rows, held_after=20):
        """A route of the loopback server that sends header and the first held_after rows,
        then holds the rest back until the returned gate (a threading.Event) is set (or the
        server stops): a run of it stays running, fetching, for as long as a test needs,
        however fast the machine. Returns (url, gate); the gate is set at cleanup."""
        gate = threading.Event()
        self.addCleanup(gate.set)
        head = csv_text(header, rows[:held_after]).encode()
        tail = csv_text(header, rows[held_after:]).encode().split(b"\n", 1)[1]
        stopping = self.server.stopping

        def gated():
            yield head
            while not gate.wait(0.05):
                if stopping.is_set():
                    return
            yield tail
        return self.server.route(path, body=gated), gate

    @property
    def server(self):
        """The test's loopback HTTP server, started on first use and stopped at cleanup."""
        if self._server is None:
            self._server = LoopbackServer()
            self.addCleanup(self._server.stop)
        return self._server


def read_line_until(stream, predicate, deadline):
    """Reads lines from a binary pipe until predicate(line) or the deadline (monotonic time)
    passes or the stream ends. Returns (matching line or None, lines read, queue): a thread
    pumps the pipe into the queue, so a silent pipe cannot block past the deadline, and
    drain(queue) reads the rest."""
    import queue
    q = queue.Queue()

    def pump():
        for raw in iter(stream.readline, b""):
            q.put(raw.decode("utf-8", "replace"))
        q.put(None)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, seen, q
        try:
            line = q.get(timeout=left)
        except queue.Empty:
            return None, seen, q
        if line is None:
            return None, seen, q
        seen.append(line)
        if predicate(line):
            return line, seen, q


def drain(q, timeout=5):
    """The rest of what a read_line_until pump thread reads, until the stream ends."""
    import queue
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        out.append(line)
    return out


def main():
    """Runs the calling module's tests with unittest's summary; exits non-zero on failure."""
    unittest.main(module="__main__", verbosity=2)
