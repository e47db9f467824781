#!/usr/bin/python3
"""fake_upstream.py - Ferry's own fake JSON API, on loopback, for tests and benchmarks.

A ThreadingHTTPServer on 127.0.0.1 (port 0: the OS picks one) speaking HTTP/1.1 with
keep-alive and a Content-Length on every answer. It serves a deterministic dataset of N
records; record i (1-based) is make_record(i):

    {"id": i, "first_name": "First<i>", "last_name": "Last<i>", "email": "user<i>@example.com",
     "address": {"city": "City<i % 50>"}, "labels": ["a", "b"], "archived_at": null,
     "created_at": "2026-01-01T00:00:00Z"}

in each pagination style Ferry knows, each on its own path (S, the page size, comes from the
query or defaults to 100):

    /next_link/patients?page=K&per_page=S    {"patients": [...], "total_entries": N,
                                              "links": {"self": URL, "next": URL}}; no next
                                              on the last page (Cliniko)
    /link_header/tickets?page=K&per_page=S   a bare array; Link: <URL>; rel="next" except on
                                              the last page, and with link_last set
                                              <URL>; rel="last" (Freshdesk, GitHub)
    /offset/search?startAt=X&maxResults=S    {"startAt", "maxResults", "total", "issues"}
                                              (JIRA's classic search)
    /cursor/search?nextPageToken=T&maxResults=S
                                             {"issues": [...], "nextPageToken": T}; the token
                                              is absent (not null) on the last page (JIRA's
                                              new search)
    /page/items?page=K&size=S                a bare array; an empty array past the end
    /csv/patients.csv                        the dataset as CSV: id,first_name,last_name,
                                              email,city
    /t/TENANT/<any of the above>             the same, over TENANT's own dataset (404 for a
                                              tenant that has none)

Next links and Link headers are absolute URLs on the address the request came to. A POST to
an API path reads the parameters from a JSON object body as well as from the query. Pages
answered without a fault are rendered once and cached (prerender() renders a whole style in
advance), so the server is not what a benchmark measures.

A second listener on 127.0.0.2, same port (when the system lets it bind), takes the requests
a client should never send: the "offhost" fault points next links there, and requests it
receives are recorded with server "127.0.0.2".

Faults (FakeUpstream.fault(kind, path=None, page=None, on=None, times=1, **params)) apply to
the requests of one path (the path without its query; None: every API path) and, with page,
to one page number. The fault fires from the on-th such request (default: the first), times
times (None: every time). Kinds and their parameters:

    status      status=500, body, headers={}: answer that instead (403, 302 + Location...)
    429         retry_after=1: 429 with Retry-After (seconds; a string is sent as written)
    429_reset   reset_in=1: 429 with X-RateLimit-Reset, epoch seconds at least reset_in away
    slow        delay=30: wait delay seconds before answering
    hold        until (a threading.Event): answer only once the test sets it (or the server
                stops), so a test can look at a run while it waits for this page
    truncate    keep=0.5: the page cut short (a fraction, or a byte count when > 1), with
                a Content-Length that matches what is sent
    html        an HTML error page with status 200 and Content-Type text/html
    big         size=1048576: the page padded to at least size bytes (still valid JSON)
    stall       after=64, seconds=60: headers and the first `after` bytes, then nothing for
                seconds, then the connection closes
    no_records  the page without its records member (an object with no array for bare styles)
    loop        the next link (or cursor) leads back to page 1
    offhost     the next link points at http://127.0.0.2:PORT/... (another host)
    reset       the connection is closed with a TCP reset, no answer

require_auth(basic=(user, password) | bearer=token | header=(name, value)) makes every API
path answer 401 to a request without those credentials.

Data: set_records(N | records, tenant=None) replaces a dataset (set_tenant(name, ...) the
same for a tenant), update_record(id, tenant=None, **fields) merges fields into a record,
delete_record(id, tenant=None) removes one, records(tenant=None) is the list itself (edit it
in place, then call changed()); make_record(i) and make_records(n, start=1) build records.

Every API request is recorded (control requests are not): requests holds dicts with method,
path (with the query), route (without), query (dict), headers (dict), body, page, time
(time.time()), mono (time.monotonic()), server, status and fault (the kind that fired, or
None); count(route), requests_for(route) and times(route) read them, request_header(request,
name) looks a header up regardless of case, and reset_requests() starts over.

Control over HTTP, so a standalone server can be driven too: POST /_control with a JSON object
holding any of

    {"records": N | [record...], "tenant": "org-1",        # replace a dataset
     "tenants": {"org-1": N | [...], ...},                  # set several tenants' datasets
     "update": [{"id": 7, "email": "x@example.com"}],       # merge into records by id
     "delete": [7, 8], "per_page": 100,
     "auth": {"type": "basic", "user": U, "password": P} | {"type": "bearer", "token": T}
             | {"type": "header", "header": "X-API-Key", "key": K} | null,
     "faults": [{"kind": "429", "path": "/next_link/patients", "page": 2, "retry_after": 1}],
     "clear_faults": true, "reset_requests": true}

("tenant" says which dataset records, update and delete apply to; absent: the default one.)
GET /_control answers {"records", "tenants", "per_page", "counts", "faults", "requests"} (the
last 200 requests). GET / lists the paths.

Standalone (the benchmark uses this):

    python3 tests/integration/fake_upstream.py --records 200000 --port 0 [--per-page 100]
        [--tenant org-1=120 ...] [--prerender next_link,csv] [--verbose]

prints its base URL (http://127.0.0.1:PORT) on the first line of standard output and serves
until SIGINT or SIGTERM.

Only the Python standard library is used.
"""

import argparse
import base64
import copy
import csv
import io
import json
import math
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 10000
ALT_HOST = "127.0.0.2"
CSV_COLUMNS = ["id", "first_name", "last_name", "email", "city"]

STYLES = ("next_link", "link_header", "offset", "cursor", "page", "csv")
# style -> (path under the style's prefix, records member or None for a bare array)
STYLE_PATHS = {
    "next_link": ("/next_link/patients", "patients"),
    "link_header": ("/link_header/tickets", None),
    "offset": ("/offset/search", "issues"),
    "cursor": ("/cursor/search", "issues"),
    "page": ("/page/items", None),
    "csv": ("/csv/patients.csv", None),
}
ROUTE_STYLE = {path: style for style, (path, _) in STYLE_PATHS.items()}

FAULT_KINDS = ("status", "429", "429_reset", "slow", "hold", "truncate", "html", "big", "stall",
               "no_records", "loop", "offhost", "reset")

HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Service unavailable</title></head>"
                   b"<body><h1>Something went wrong</h1><p>Please sign in again.</p>"
                   b"</body></html>\n")


def make_record(i):
    """Record i (1-based) of the generated dataset."""
    return {"id": i, "first_name": "First%d" % i, "last_name": "Last%d" % i,
            "email": "user%d@example.com" % i, "address": {"city": "City%d" % (i % 50)},
            "labels": ["a", "b"], "archived_at": None, "created_at": "2026-01-01T00:00:00Z"}


def make_records(n, start=1):
    """Records start .. start+n-1 of the generated dataset, as a list."""
    return [make_record(i) for i in range(start, start + n)]


def request_header(request, name):
    """A header of a recorded request, looked up regardless of case; None when absent."""
    for k, v in request["headers"].items():
        if k.lower() == name.lower():
            return v
    return None


def encode_cursor(offset):
    """The opaque nextPageToken for a start offset (base64, so it holds '=' to encode)."""
    return base64.urlsafe_b64encode(b"offset:%d;v1" % offset).decode("ascii")


def decode_cursor(token):
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"==")
        tag, _, rest = raw.decode("ascii").partition(":")
        if tag != "offset":
            return None
        return int(rest.split(";", 1)[0])
    except (ValueError, UnicodeError):
        return None


class Dataset:
    """N generated records, or an explicit list once a test replaced or edited them."""

    def __init__(self, source):
        if isinstance(source, int):
            self.n = source
            self.items = None
        else:
            self.items = [copy.deepcopy(r) for r in source]
            self.n = len(self.items)

    def __len__(self):
        return self.n if self.items is None else len(self.items)

    def slice(self, start, stop):
        stop = min(stop, len(self))
        if start >= stop:
            return []
        if self.items is None:
            return [make_record(i) for i in range(start + 1, stop + 1)]
        return self.items[start:stop]

    def materialize(self):
        if self.items is None:
            self.items = make_records(self.n)
        return self.items

    def update(self, record_id, fields):
        for r in self.materialize():
            if r.get("id") == record_id:
                r.update(copy.deepcopy(fields))
                return True
        return False

    def delete(self, record_id):
        items = self.materialize()
        before = len(items)
        items[:] = [r for r in items if r.get("id") != record_id]
        return len(items) != before


class Fault:
    """One injected fault; see the module's docstring."""

    def __init__(self, kind, path=None, page=None, on=None, times=1, **params):
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (one of %s)" % (kind, ", ".join(FAULT_KINDS)))
        self.kind = kind
        self.path = path
        self.page = page
        self.on = on
        self.times = times
        self.params = params
        self.seen = 0   # requests that matched path and page
        self.fired = 0  # times it fired

    def matches(self, route, page, can_fire=True):
        """Counts a request and says whether the fault fires on it (the caller holds the lock);
        can_fire False only counts it (another fault already answers this request)."""
        if self.path is not None and self.path != route:
            return False
        if self.page is not None and self.page != page:
            return False
        self.seen += 1
        if not can_fire:
            return False
        if self.on is not None and self.seen < self.on:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def as_json(self):
        d = {"kind": self.kind, "path": self.path, "page": self.page, "on": self.on,
             "times": self.times, "seen": self.seen, "fired": self.fired}
        d.update({k: v for k, v in self.params.items() if isinstance(v, (int, float, str))})
        return d


class _Reply:
    def __init__(self, status=200, headers=None, body=b""):
        self.status = status
        self.headers = headers or []
        self.body = body


class _BadRequest(Exception):
    pass


def _json_bytes(obj):
    return json.dumps(obj, separators=(",", ":")).encode("utf-8")


class FakeUpstream:
    """The fake API. Use as a context manager (or call start() and close())."""

    def __init__(self, records=250, host="127.0.0.1", port=0, per_page=DEFAULT_PER_PAGE,
                 alt_host=True, verbose=False):
        self.lock = threading.RLock()
        self.datasets = {None: Dataset(records)}
        self.per_page = per_page
        self.link_last = False  # link_header pages also link the last page (rel="last")
        self.faults = []
        # None, ("basic", user, password), ("bearer", token) or ("header", name, value)
        self.auth = None
        self.requests = []
        self.counts = {}
        self.max_log = 100000     # requests kept (counts keep counting past it)
        self.verbose = verbose
        self.stopping = threading.Event()
        self._cache = {}
        self._host = host
        self._port = port
        self._want_alt = alt_host
        self.httpd = None
        self.alt_httpd = None
        self._threads = []

    # -- lifecycle --

    def start(self):
        self.httpd = self._listen(self._host, self._port)
        self.port = self.httpd.server_address[1]
        self.host = self._host
        if self._want_alt:
            try:
                self.alt_httpd = self._listen(ALT_HOST, self.port)
            except OSError:
                self.alt_httpd = None
        for srv in (self.httpd, self.alt_httpd):
            if srv is not None:
                t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                     daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def _listen(self, host, port):
        httpd = ThreadingHTTPServer((host, port), _Handler)
        httpd.daemon_threads = True
        httpd.owner = self
        httpd.base = "http://%s:%d" % (host, httpd.server_address[1])
        httpd.label = host
        return httpd

    def close(self):
        self.stopping.set()
        for srv in (self.httpd, self.alt_httpd):
            if srv is not None:
                srv.shutdown()
                srv.server_close()
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    def base_url(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def alt_base_url(self):
        return "http://%s:%d" % (ALT_HOST, self.port)

    def url(self, path="/", tenant=None):
        """An absolute URL on the server; with tenant, under /t/TENANT."""
        prefix = "/t/%s" % tenant if tenant is not None else ""
        return self.base_url + prefix + path

    # -- data --

    def set_records(self, records, tenant=None):
        """Replaces a dataset (the default one, or tenant's) with N generated records or a list."""
        with self.lock:
            self.datasets[tenant] = Dataset(records)
            self._cache.clear()

    def set_tenant(self, tenant, records):
        self.set_records(records, tenant=tenant)

    def records(self, tenant=None):
        """The dataset as a list (a generated one is materialized); edit it in place and call
        changed(), or use update_record()/delete_record()."""
        with self.lock:
            return self.datasets[tenant].materialize()

    def changed(self):
        """Drops cached pages after records() was edited in place."""
        with self.lock:
            self._cache.clear()

    def update_record(self, record_id, tenant=None, **fields):
        with self.lock:
            if not self.datasets[tenant].update(record_id, fields):
                raise KeyError("no record with id %r" % (record_id,))
            self._cache.clear()

    def delete_record(self, record_id, tenant=None):
        with self.lock:
            if not self.datasets[tenant].delete(record_id):
                raise KeyError("no record with id %r" % (record_id,))
            self._cache.clear()

    # -- auth and faults --

    def require_auth(self, basic=None, bearer=None, header=None):
        """Every API path answers 401 unless the request carries these credentials: basic
        (user, password), bearer token, or header (name, value). No argument: no auth."""
        with self.lock:
            if basic is not None:
                self.auth = ("basic", basic[0], basic[1])
            elif bearer is not None:
                self.auth = ("bearer", bearer)
            elif header is not None:
                self.auth = ("header", header[0], header[1])
            else:
                self.auth = None

    def fault(self, kind, path=None, page=None, on=None, times=1, **params):
        """Adds a fault (see the module docstring) and returns it (its seen and fired say what
        it did)."""
        f = Fault(kind, path=path, page=page, on=on, times=times, **params)
        with self.lock:
            self.faults.append(f)
        return f

    def clear_faults(self):
        with self.lock:
            self.faults = []

    # -- the request log --

    def count(self, route=None, server=None):
        """Requests received on route (a path without query; None: all), optionally only
        those that reached server ("127.0.0.1" or "127.0.0.2")."""
        with self.lock:
            return sum(1 for r in self.requests
                       if (route is None or r["route"] == route)
                       and (server is None or r["server"] == server))

    def requests_for(self, route=None):
        with self.lock:
            return [r for r in self.requests if route is None or r["route"] == route]

    def times(self, route=None):
        """time.monotonic() of each request on route, in order."""
        return [r["mono"] for r in self.requests_for(route)]

    def reset_requests(self):
        with self.lock:
            self.requests = []
            self.counts = {}

    # -- pre-rendering --

    def prerender(self, style="next_link", per_page=None, tenant=None):
        """Renders every page of style in advance (pages answered without a fault are cached
        anyway; this takes the cost before a benchmark starts timing)."""
        size = per_page or self.per_page
        ds = self.datasets[tenant]
        base = self.base_url
        if style == "csv":
            self._cached(("csv", tenant, None, None, base), lambda: self._render_csv(ds))
            return
        pages = max(1, -(-len(ds) // size))
        for k in range(1, pages + 1):
            start = (k - 1) * size
            key = (style, tenant, start, size, base)
            self._cached(key, lambda: self._render(style, ds, tenant, start, size, base, None,
                                                   k))

    def _cached(self, key, make):
        reply = self._cache.get(key)
        if reply is None:
            reply = make()
            if reply.status == 200:
                self._cache[key] = reply
        return reply

    # -- rendering --

    def _page_url(self, base, tenant, style, params):
        prefix = "/t/%s" % tenant if tenant is not None else ""
        return "%s%s%s?%s" % (base, prefix, STYLE_PATHS[style][0], urlencode(params))

    def _render(self, style, ds, tenant, start, size, base, mode, page):
        """The page of style starting at record start (0-based), size records. mode: None,
        "loop" or "offhost" (what the next link says), or "no_records"."""
        n = len(ds)
        items = ds.slice(start, start + size)
        has_next = start + size < n
        link_base = base
        if mode == "offhost":
            link_base = "http://%s:%d" % (ALT_HOST, self.port)
        headers = [("Content-Type", "application/json; charset=utf-8")]
        if style in ("next_link", "link_header"):
            next_page = 1 if mode == "loop" else page + 1
            if style == "next_link":
                doc = {"patients": items, "total_entries": n,
                       "links": {"self": self._page_url(base, tenant, style,
                                                        {"page": page, "per_page": size})}}
                if has_next or mode == "loop":
                    doc["links"]["next"] = self._page_url(link_base, tenant, style,
                                                          {"page": next_page, "per_page": size})
            else:
                doc = items
                links = []
                if has_next or mode == "loop":
                    links.append('<%s>; rel="next"' % self._page_url(
                        link_base, tenant, style, {"page": next_page, "per_page": size}))
                last_page = max(1, (n + size - 1) // size)
                if self.link_last:
                    links.append('<%s>; rel="last"' % self._page_url(
                        link_base, tenant, style, {"page": last_page, "per_page": size}))
                if links:
                    headers.append(("Link", ", ".join(links)))
        elif style == "offset":
            doc = {"startAt": start, "maxResults": size, "total": n, "issues": items}
        elif style == "cursor":
            doc = {"issues": items}
            if mode == "loop":
                doc["nextPageToken"] = encode_cursor(0)
            elif has_next:
                doc["nextPageToken"] = encode_cursor(start + size)
        else:  # page
            doc = items
        if mode == "no_records":
            member = STYLE_PATHS[style][1]
            if member is not None:
                doc.pop(member, None)
            else:
                doc = {"message": "no records here", "count": len(items)}
        return _Reply(200, headers, _json_bytes(doc))

    def _render_csv(self, ds):
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        chunk = 5000
        for s in range(0, len(ds), chunk):
            for r in ds.slice(s, s + chunk):
                city = (r.get("address") or {}).get("city") if isinstance(r, dict) else None
                w.writerow([r.get("id"), r.get("first_name"), r.get("last_name"),
                            r.get("email"), city])
        return _Reply(200, [("Content-Type", "text/csv; charset=utf-8")],
                      out.getvalue().encode("utf-8"))

    # -- answering one API request --

    def _params(self, query, body):
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if body:
            try:
                doc = json.loads(body.decode("utf-8"))
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                params.update({k: str(v) for k, v in doc.items() if v is not None})
        return params

    @staticmethod
    def _int(params, name, default, low=0, high=None):
        text = params.get(name)
        if text is None or text == "":
            return default
        try:
            v = int(text)
        except ValueError:
            raise _BadRequest("%s must be an integer, not %r" % (name, text))
        if v < low or (high is not None and v > high):
            raise _BadRequest("%s out of range: %d" % (name, v))
        return v

    def _locate(self, route, params):
        """(tenant, style, start, size, page) for an API route, or raises _BadRequest/KeyError."""
        tenant = None
        path = route
        if path.startswith("/t/"):
            tenant, _, rest = path[3:].partition("/")
            path = "/" + rest
            if not tenant:
                raise KeyError(route)
        style = ROUTE_STYLE.get(path)
        if style is None:
            raise KeyError(route)
        if tenant not in self.datasets:
            raise KeyError("tenant %s" % tenant)
        if style == "csv":
            return tenant, style, 0, None, 1
        if style in ("next_link", "link_header"):
            size = self._int(params, "per_page", self.per_page, 1, MAX_PER_PAGE)
            page = self._int(params, "page", 1, 1)
            start = (page - 1) * size
        elif style == "offset":
            size = self._int(params, "maxResults", self.per_page, 1, MAX_PER_PAGE)
            start = self._int(params, "startAt", 0, 0)
            page = start // size + 1
        elif style == "cursor":
            size = self._int(params, "maxResults", self.per_page, 1, MAX_PER_PAGE)
            token = params.get("nextPageToken") or ""
            if token:
                start = decode_cursor(token)
                if start is None:
                    raise _BadRequest("invalid nextPageToken %r" % token)
            else:
                start = 0
            page = start // size + 1
        else:  # page
            size = self._int(params, "size", self.per_page, 1, MAX_PER_PAGE)
            page = self._int(params, "page", 1, 1)
            start = (page - 1) * size
        return tenant, style, start, size, page

    def _auth_ok(self, headers):
        auth = self.auth
        if auth is None:
            return True
        if auth[0] == "header":
            return headers.get(auth[1]) == auth[2]
        got = headers.get("Authorization") or ""
        if auth[0] == "bearer":
            return got == "Bearer " + auth[1]
        want = base64.b64encode(("%s:%s" % (auth[1], auth[2])).encode("utf-8")).decode("ascii")
        return got == "Basic " + want

    def answer(self, handler, method, target, body):
        """Answers one API request on handler's connection and records it."""
        parts = urlsplit(target)
        route = parts.path
        params = self._params(parts.query, body)
        server = handler.server
        entry = {"method": method, "path": target, "route": route, "query": params,
                 "headers": dict(handler.headers.items()), "body": body.decode("utf-8", "replace"),
                 "page": None, "time": time.time(), "mono": time.monotonic(),
                 "server": server.label, "status": None}
        try:
            tenant, style, start, size, page = self._locate(route, params)
        except KeyError as e:
            return self._finish(handler, entry, None, _Reply(
                404, [("Content-Type", "application/json")],
                _json_bytes({"error": "not found", "detail": str(e).strip("'")})))
        except _BadRequest as e:
            return self._finish(handler, entry, None, _Reply(
                400, [("Content-Type", "application/json")], _json_bytes({"error": str(e)})))
        entry["page"] = page
        with self.lock:
            auth_ok = self._auth_ok(handler.headers)
            fault = None
            for f in self.faults if auth_ok else ():
                if f.matches(route, page, can_fire=fault is None):
                    fault = f
            ds = self.datasets[tenant]
        if not auth_ok:
            return self._finish(handler, entry, None, _Reply(
                401, [("Content-Type", "application/json"),
                      ("WWW-Authenticate", 'Basic realm="fake upstream"')],
                _json_bytes({"error": "unauthorized", "message": "bad credentials"})))
        base = server.base
        mode = fault.kind if fault is not None and fault.kind in ("loop", "offhost",
                                                                   "no_records") else None
        if style == "csv":
            reply = self._cached(("csv", tenant, None, None, base), lambda: self._render_csv(ds))
        elif mode is None:
            reply = self._cached((style, tenant, start, size, base),
                                 lambda: self._render(style, ds, tenant, start, size, base,
                                                      None, page))
        else:
            reply = self._render(style, ds, tenant, start, size, base, mode, page)
        return self._finish(handler, entry, fault, reply)

    def _finish(self, handler, entry, fault, reply):
        kind = fault.kind if fault is not None else None
        p = fault.params if fault is not None else {}
        status = reply.status
        if kind == "status":
            status = p.get("status", 500)
            hdrs = [("Content-Type", p.get("content_type", "application/json"))]
            hdrs += list((p.get("headers") or {}).items())
            body = p.get("body", _json_bytes({"error": "internal error", "status": status}))
            reply = _Reply(status, hdrs, body.encode("utf-8") if isinstance(body, str) else body)
        elif kind == "429":
            ra = p.get("retry_after", 1)
            hdrs = [("Content-Type", "application/json")]
            if ra is not None:
                hdrs.append(("Retry-After", str(ra)))
            reply = _Reply(429, hdrs, _json_bytes({"error": "too many requests"}))
        elif kind == "429_reset":
            reset = int(math.ceil(time.time() + float(p.get("reset_in", 1))))
            reply = _Reply(429, [("Content-Type", "application/json"),
                                 ("X-RateLimit-Limit", "200"), ("X-RateLimit-Remaining", "0"),
                                 ("X-RateLimit-Reset", str(reset))],
                           _json_bytes({"error": "too many requests"}))
        elif kind == "html":
            reply = _Reply(200, [("Content-Type", "text/html; charset=utf-8")], HTML_ERROR_PAGE)
        elif kind == "truncate":
            keep = p.get("keep", 0.5)
            n = int(keep) if keep > 1 else int(len(reply.body) * keep)
            reply = _Reply(reply.status, reply.headers, reply.body[:max(1, n)])
        elif kind == "big":
            size = int(p.get("size", 1 << 20))
            pad = max(0, size - len(reply.body))
            body = reply.body
            if body.startswith(b"{"):
                body = b'{"padding":"' + b"x" * pad + b'",' + body[1:]
            else:
                body = body + b" " * pad
            reply = _Reply(reply.status, reply.headers, body)
        entry["status"] = reply.status
        entry["fault"] = kind
        with self.lock:
            if len(self.requests) < self.max_log:
                self.requests.append(entry)
            self.counts[entry["route"]] = self.counts.get(entry["route"], 0) + 1
        if kind == "reset":
            handler.reset()
            return
        if kind == "hold":
            gate = p["until"]
            while not gate.wait(0.05):
                if self.stopping.is_set():
                    handler.close_connection = True
                    return
        if kind == "slow":
            if self.stopping.wait(float(p.get("delay", 30))):
                handler.close_connection = True
                return
        if kind == "stall":
            after = int(p.get("after", 64))
            handler.send_bytes(reply.status, reply.headers, reply.body, len(reply.body),
                               upto=after)
            self.stopping.wait(float(p.get("seconds", 60)))
            handler.close_connection = True
            return
        handler.send_bytes(reply.status, reply.headers, reply.body, len(reply.body))

    # -- control --

    def control(self, doc):
        """Applies a POST /_control document (see the module docstring)."""
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
        known = {"records", "tenant", "tenants", "update", "delete", "per_page", "auth",
                 "faults", "clear_faults", "reset_requests"}
        unknown = set(doc) - known
        if unknown:
            raise ValueError("unknown keys: %s" % ", ".join(sorted(unknown)))
        tenant = doc.get("tenant")
        with self.lock:
            if doc.get("clear_faults"):
                self.clear_faults()
            if doc.get("reset_requests"):
                self.reset_requests()
            if "records" in doc:
                self.set_records(doc["records"], tenant=tenant)
            for name, recs in (doc.get("tenants") or {}).items():
                self.set_records(recs, tenant=name)
            if "per_page" in doc:
                self.per_page = int(doc["per_page"])
                self._cache.clear()
            for upd in doc.get("update") or []:
                upd = dict(upd)
                self.update_record(upd.pop("id"), tenant=tenant, **upd)
            for rid in doc.get("delete") or []:
                self.delete_record(rid, tenant=tenant)
            if "auth" in doc:
                a = doc["auth"]
                if a is None:
                    self.require_auth()
                elif a.get("type") == "basic":
                    self.require_auth(basic=(a.get("user", ""), a.get("password", "")))
                elif a.get("type") == "bearer":
                    self.require_auth(bearer=a["token"])
                elif a.get("type") == "header":
                    self.require_auth(header=(a.get("header", "X-API-Key"), a["key"]))
                else:
                    raise ValueError("auth.type must be basic, bearer or header")
            for f in doc.get("faults") or []:
                f = dict(f)
                self.fault(f.pop("kind"), **f)

    def state(self):
        with self.lock:
            return {"records": len(self.datasets[None]),
                    "tenants": {t: len(d) for t, d in self.datasets.items() if t is not None},
                    "per_page": self.per_page, "counts": dict(self.counts),
                    "faults": [f.as_json() for f in self.faults],
                    "requests": [{k: v for k, v in r.items() if k != "mono"}
                                 for r in self.requests[-200:]]}


def _index(base):
    paths = [STYLE_PATHS[s][0] for s in STYLES]
    return {"paths": [base + p for p in paths],
            "tenants": base + "/t/{tenant}/...", "control": base + "/_control"}


class _Headers:
    """Request headers: get() regardless of case, items() as sent. (http.server's own parser
    goes through the email package, which costs more than the rest of a cached answer.)"""

    def __init__(self):
        self._items = []
        self._lower = {}

    def add(self, name, value):
        self._items.append((name, value))
        self._lower.setdefault(name.lower(), value)

    def get(self, name, default=None):
        return self._lower.get(name.lower(), default)

    def items(self):
        return list(self._items)

    def __len__(self):
        return len(self._items)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeUpstream/1"
    timeout = 120  # an idle keep-alive connection is closed after this long

    def setup(self):
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # A whole page fits in the send buffer: the answer is written in one go.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        except OSError:
            pass

    def parse_request(self):
        """The request line and headers, parsed directly (see _Headers)."""
        self.command = None
        self.request_version = "HTTP/1.1"
        self.close_connection = True
        line = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.requestline = line
        words = line.split()
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            self.send_error(400, "Bad request line %r" % line)
            return False
        self.command, self.path, self.request_version = words
        headers = _Headers()
        while True:
            raw = self.rfile.readline(65537)
            if raw in (b"\r\n", b"\n", b""):
                break
            if len(raw) > 65536 or len(headers) >= 100:
                self.send_error(431, "Request header fields too large")
                return False
            name, sep, value = raw.decode("iso-8859-1").partition(":")
            if not sep:
                self.send_error(400, "Bad header line %r" % raw)
                return False
            headers.add(name.strip(), value.strip())
        self.headers = headers
        conn = (headers.get("Connection") or "").lower()
        self.close_connection = (conn == "close" or
                                 (self.request_version == "HTTP/1.0" and conn != "keep-alive"))
        if (headers.get("Expect") or "").lower() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self.wfile.flush()
        return True

    def log_message(self, fmt, *args):
        if self.server.owner.verbose:
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def handle(self):
        try:
            super().handle()
        except (BrokenPipeError, ConnectionResetError, socket.timeout, TimeoutError):
            pass  # the client went away: expected in failure tests
        except ValueError:
            pass  # the reset fault closed the socket under the handler

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def do_GET(self):
        self._guarded("GET", b"")

    def do_POST(self):
        self._guarded("POST", self._body())

    def _guarded(self, method, body):
        try:
            self._dispatch(method, body)
        except (BrokenPipeError, ConnectionResetError, socket.timeout, TimeoutError):
            raise
        except Exception as e:  # a bug here must show, not look like a network failure
            traceback.print_exc()
            self.close_connection = True
            self.send_json(500, {"error": "fake upstream bug: %r" % (e,)})

    def _dispatch(self, method, body):
        owner = self.server.owner
        route = self.path.split("?", 1)[0]
        if route == "/_control":
            if method == "GET":
                self.send_json(200, owner.state())
                return
            try:
                owner.control(json.loads(body.decode("utf-8") or "{}"))
            except (ValueError, KeyError, TypeError) as e:
                self.send_json(400, {"error": str(e)})
                return
            self.send_json(200, {"ok": True})
            return
        if route == "/":
            self.send_json(200, _index(self.server.base))
            return
        owner.answer(self, method, self.path, body)

    def send_json(self, status, obj):
        self.send_bytes(status, [("Content-Type", "application/json")],
                        json.dumps(obj, indent=1).encode("utf-8") + b"\n")

    def send_bytes(self, status, headers, body, content_length=None, upto=None):
        """The status line, headers (with Content-Length) and body in one write (no Nagle
        stall between them); with upto, only that much of the body."""
        self.log_request(status)
        lines = ["HTTP/1.1 %d %s" % (status, self.responses.get(status, ("",))[0]),
                 "Server: " + self.server_version, "Date: " + self.date_time_string()]
        lines += ["%s: %s" % kv for kv in headers]
        lines.append("Content-Length: %d" % (len(body) if content_length is None
                                             else content_length))
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (body if upto is None else body[:upto]))
        self.wfile.flush()

    def reset(self):
        """Closes the connection with a TCP reset instead of an answer."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for f in (self.wfile, self.rfile):
            try:
                f.close()
            except OSError:
                pass
        self.connection.close()


def main(argv=None):
    ap = argparse.ArgumentParser(description="Ferry's fake paginated JSON API, on loopback.")
    ap.add_argument("--records", type=int, default=250, help="records in the dataset")
    ap.add_argument("--port", type=int, default=0, help="port (0: any free one)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--per-page", type=int, default=DEFAULT_PER_PAGE,
                    help="page size when the query names none")
    ap.add_argument("--tenant", action="append", default=[], metavar="NAME=N",
                    help="a tenant's dataset of N generated records (repeatable)")
    ap.add_argument("--prerender", default="",
                    help="styles to render in advance, comma-separated (e.g. next_link,csv)")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = ap.parse_args(argv)

    up = FakeUpstream(records=args.records, host=args.host, port=args.port,
                      per_page=args.per_page, verbose=args.verbose)
    for spec in args.tenant:
        name, _, n = spec.partition("=")
        up.set_tenant(name, int(n or args.records))
    up.start()
    for style in filter(None, args.prerender.split(",")):
        if style not in STYLES:
            ap.error("unknown style %r (one of %s)" % (style, ", ".join(STYLES)))
        up.prerender(style)
    print(up.base_url, flush=True)

    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    while not done.wait(0.2):
        pass
    up.close()


if __name__ == "__main__":
    main()
