#!/usr/bin/python3
"""Ferry's server benchmark: GET /api/runs/{id} against nginx, and click latency under load.

In one run, on loopback:

  1. `wrk -t2 -c64 -d10s` on ferry's GET /api/runs/{id}, and the same wrk on nginx (Debian's
     package, one worker process) serving a static file of the same size: requests/s and the
     ratio (three of each, alternated; medians).
  2. While two large syncs run, the latency of POST /api/syncs/{name}/runs for one of them (a
     double click: it answers with the running run) and for a third sync (a new run, which
     must wait for SQLite's write lock): median and p99 of 200 requests each.

Before starting the server it adds an admin user and an API token for it with the ferry CLI
(`ferry user add`, `ferry token create`) against the benchmark's config; every request (wrk's
too, and the same header goes to nginx so both get requests of the same size) sends
Authorization: Bearer with that token. The token is never printed.

Prints figures only; it asserts nothing, since these machines are shared and noisy.
"""
import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_sync  # noqa: E402  (the roster generator)
import results  # noqa: E402  (the figures for the targets table)

CONFIG = """database: sqlite:ferry.db
files_dir: {base}
workers: 4
# The event-stream figure opens --clients streams from one address.
max_connections: {max_connections}
max_connections_per_ip: 0
syncs:
  roster_a:
    source: {{ url: {a} }}
    target: {{ table: roster_a, key: [employee_id] }}
    fields: &fields
      employee_id: {{ column: Employee ID, required: true }}
      name:        {{ column: Name }}
      email:       {{ column: Email, type: email }}
      phone:       {{ column: Phone }}
      employment:  {{ column: Employment Type }}
      location:    {{ column: Location }}
      start_date:  {{ column: Start Date, type: date }}
      active:      {{ column: Active, type: boolean }}
      hourly_rate: {{ column: Hourly Rate, type: decimal }}
  roster_b:
    source: {{ url: {b} }}
    target: {{ table: roster_b, key: [employee_id] }}
    fields: *fields
  small:
    source: {{ url: {small} }}
    target: {{ table: small, key: [employee_id] }}
    fields: *fields
"""

NGINX = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/tmp; proxy_temp_path {dir}/tmp; fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp; scgi_temp_path {dir}/tmp;
  server {{
    listen 127.0.0.1:{port};
    root {dir}/www;
    location / {{ default_type application/json; }}
  }}
}}
"""


BENCH_USER = "bench"

# The headers every request to the server sends: the Authorization of the benchmark's token
# (set by main() once the token is made).
AUTH = {}


def mask_tokens(text):
    """text with every API token (fy_...) replaced by fy_***."""
    return re.sub(r"fy_[A-Za-z0-9_-]+", "fy_***", text)


def make_token(ferry, config):
    """Adds the admin user BENCH_USER (random password) and returns a new API token for it,
    with the ferry CLI against config (before the server starts)."""
    def run(*args, stdin=None):
        p = subprocess.run([ferry] + list(args) + ["--config", config], input=stdin,
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise SystemExit("ferry %s %s exited %d:\n%s%s"
                             % (args[0], args[1], p.returncode, mask_tokens(p.stdout),
                                mask_tokens(p.stderr)))
        return p.stdout
    run("user", "add", BENCH_USER, "--role", "admin", "--password-stdin",
        stdin="pw-" + secrets.token_urlsafe(12) + "\n")
    out = run("token", "create", "--user", BENCH_USER, "--name", "bench_serve")
    m = re.search(r"^(fy_[A-Za-z0-9_-]+)$", out, re.M)
    if m is None:
        raise SystemExit("ferry token create printed no token:\n" + mask_tokens(out))
    return m.group(1)


def request(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request(method, path, body=body, headers=AUTH)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def wait_run(port, run_id, limit_s=120):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status, data = request(port, "GET", "/api/runs/%d" % run_id)
        run = json.loads(data)
        if run["status"] not in ("queued", "running"):
            return run
        time.sleep(0.1)
    raise SystemExit("run %d did not finish" % run_id)


def running(port):
    _, data = request(port, "GET", "/api/runs?status=running&limit=10")
    return len(json.loads(data)["runs"])


def wait_idle(port, limit_s=300):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        _, data = request(port, "GET", "/api/runs?status=running&limit=1")
        _, queued = request(port, "GET", "/api/runs?status=queued&limit=1")
        if not json.loads(data)["runs"] and not json.loads(queued)["runs"]:
            return
        time.sleep(0.2)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wrk(url, seconds):
    headers = []
    for k, v in AUTH.items():
        headers += ["-H", "%s: %s" % (k, v)]
    p = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds] + headers + [url],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
    if not m:
        raise SystemExit("wrk failed:\n" + mask_tokens(p.stdout))
    if "Non-2xx or 3xx responses" in p.stdout:  # e.g. 401s: not the figure we mean to measure
        raise SystemExit("wrk got error answers from %s:\n%s" % (url, mask_tokens(p.stdout)))
    return float(m.group(1))


def latencies(port, path, n):
    out = []
    for _ in range(n):
        t = time.monotonic()
        status, _ = request(port, "POST", path)
        out.append((time.monotonic() - t) * 1000)
        if status not in (200, 202):
            raise SystemExit("POST %s answered %d" % (path, status))
    out.sort()
    return statistics.median(out), out[int(len(out) * 0.99) - 1]


def sse_fanout(port, clients, sync_path):
    """Opens `clients` event streams, starts a run, and returns the seconds from the run's
    end (as the first stream saw run.finished) to the last stream seeing it, plus how many
    streams saw it."""
    import selectors
    import socket
    sel = selectors.DefaultSelector()
    socks = []
    auth = "".join("%s: %s\r\n" % kv for kv in AUTH.items()).encode("ascii")
    for _ in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /api/events HTTP/1.1\r\nHost: x\r\n" + auth +
                  b"Accept: text/event-stream\r\n\r\n")
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, bytearray())
        socks.append(s)
    time.sleep(1.0)
    request(port, "POST", sync_path)
    seen = {}
    deadline = time.monotonic() + 60
    while len(seen) < clients and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            key.data.extend(chunk)
            if key.fileobj not in seen and b"event: run.finished" in key.data:
                seen[key.fileobj] = time.monotonic()
    for s in socks:
        s.close()
    if not seen:
        return None, 0
    return max(seen.values()) - min(seen.values()), len(seen)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rows", type=int, default=400000)
    ap.add_argument("--clients", type=int, default=1000)
    args = ap.parse_args()
    for tool in ("wrk", "/usr/sbin/nginx"):
        if shutil.which(tool) is None:
            raise SystemExit("%s is missing: make bench installs it" % tool)
    base = tempfile.mkdtemp(prefix="ferry-bench-serve-")
    # nginx's workers drop to an unprivileged user when it runs as root: they must be able to
    # reach www/ (mkdtemp makes the directory 0700, and nginx answered 403 to every request).
    os.chmod(base, 0o755)
    ferry = nginx = None
    try:
        a, _, _, _ = bench_sync.generate(base, args.rows)
        b = os.path.join(base, "roster-b.csv")
        shutil.copy(a, b)
        small = os.path.join(base, "small.csv")
        with open(a) as src, open(small, "w") as dst:
            for i, line in enumerate(src):
                if i > 100:
                    break
                dst.write(line)
        config = os.path.join(base, "ferry.yaml")
        with open(config, "w") as f:
            f.write(CONFIG.format(a=a, b=b, small=small, base=base,
                                  max_connections=max(4096, args.clients + 1024)))
        AUTH["Authorization"] = "Bearer " + make_token(os.path.abspath(args.ferry), config)
        ferry = subprocess.Popen([os.path.abspath(args.ferry), "serve", "--config",
                                  config, "--listen", "127.0.0.1:0"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = ferry.stdout.readline()
        port = int(re.search(r":(\d+)/", line).group(1))

        status, data = request(port, "POST", "/api/syncs/small/runs")
        run = wait_run(port, json.loads(data)["id"])
        _, body = request(port, "GET", "/api/runs/%d" % run["id"])
        os.makedirs(os.path.join(base, "www"))
        os.makedirs(os.path.join(base, "tmp"))
        with open(os.path.join(base, "www", "run.json"), "wb") as f:
            f.write(body)
        nport = free_port()
        with open(os.path.join(base, "nginx.conf"), "w") as f:
            f.write(NGINX.format(dir=base, port=nport))
        nginx = subprocess.Popen(["/usr/sbin/nginx", "-p", base, "-c",
                                  os.path.join(base, "nginx.conf"), "-e", "stderr"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

        # Alternated three times, medians reported: the machine is shared and noisy, and
        # alternating spreads the noise over both.
        ferry_runs, nginx_runs = [], []
        for _ in range(3):
            ferry_runs.append(wrk("http://127.0.0.1:%d/api/runs/%d" % (port, run["id"]),
                                  args.seconds))
            nginx_runs.append(wrk("http://127.0.0.1:%d/run.json" % nport, args.seconds))
        ferry_rps = sorted(ferry_runs)[1]
        nginx_rps = sorted(nginx_runs)[1]

        request(port, "POST", "/api/syncs/roster_a/runs")
        request(port, "POST", "/api/syncs/roster_b/runs")
        time.sleep(0.2)
        dup_p50, dup_p99 = latencies(port, "/api/syncs/roster_a/runs", 200)
        busy_before = running(port)
        new_p50, new_p99 = latencies(port, "/api/syncs/small/runs", 50)
        busy_after = running(port)
        wait_idle(port)
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(8192, args.clients + 256)),
                                                    hard))
        spread, got = sse_fanout(port, args.clients, "/api/syncs/small/runs")
        sse_rss = rss_mib(ferry.pid)

        print("Ferry server benchmark (loopback, wrk -t2 -c64 -d%ds, median of 3, each "
              "request with an API token)" % args.seconds)
        print("  %-46s %10.0f req/s" % ("nginx, static file of %d bytes" % len(body),
                                        nginx_rps))
        print("  %-46s %10.0f req/s  %.2fx nginx" % ("ferry GET /api/runs/{id}", ferry_rps,
                                                     ferry_rps / nginx_rps))
        print("  POST /api/syncs/{name}/runs while two %d-row syncs run:" % args.rows)
        print("  %-46s p50 %.2f ms  p99 %.2f ms" % ("  double click (the running sync)",
                                                    dup_p50, dup_p99))
        print("  %-46s p50 %.2f ms  p99 %.2f ms  (runs executing before/after: %d/%d)" %
              ("  a new run of a third sync", new_p50, new_p99, busy_before, busy_after))
        print("  %d event streams: %d received run.finished, the last %.0f ms after the first;"
              " server RSS %.1f MiB" % (args.clients, got, (spread or 0) * 1000, sse_rss))
        results.record("serve.get_run_ratio", ferry_rps / nginx_rps)
        results.record("serve.streams.%d.received" % args.clients, got)
        results.record("serve.streams.%d.spread_s" % args.clients, spread)
        results.record("serve.streams.%d.rss_mib" % args.clients, sse_rss)
    finally:
        for p in (nginx, ferry):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
