#!/usr/bin/python3
"""Ferry's REST benchmark: a paginated JSON API against the same records as one CSV file.

Starts the project's fake upstream (tests/integration/fake_upstream.py, standalone, on
loopback) with N deterministic records (200,000 by default), every page rendered in advance so
the Python server is not what is measured, then, in the same run:

  baseline  ferry sync of the records as one CSV file over HTTP (/csv/patients.csv:
            id,first_name,last_name,email,city)
  rest      ferry sync of the same records as a `kind: rest` source, next_link pagination,
            100 records per page (/next_link/patients: N / 100 requests on one connection)

into an empty database each time. Each is repeated --repeat times, alternated, on fresh
directories; the medians are reported as rows/s, with the REST/CSV ratio (the target is 0.5x
or better) and Ferry's peak RSS (from /usr/bin/time -v). For scale, the fake upstream alone
is timed too: every page fetched by a Python client on one keep-alive connection (a lower
bound of what the server can give).

Prints figures only; it asserts nothing, since these machines are shared and noisy.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import results  # the figures for the targets table (bench/ is the script's folder)

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE_UPSTREAM = os.path.join(HERE, "..", "tests", "integration", "fake_upstream.py")

# The same table either way; only where city comes from differs.
FIELDS = """\
    fields:
      id:         { type: integer }
      first_name: { required: true }
      last_name:
      email:      { type: email }
      city:       CITY
"""

CSV_CONFIG = """database: sqlite:ferry.db
allow_private: true  # the API is a server on loopback
syncs:
  patients:
    title: Patients
    source: {{ url: "{base}/csv/patients.csv" }}
    target: {{ table: patients, key: [id] }}
"""

REST_CONFIG = """database: sqlite:ferry.db
allow_private: true  # the API is a server on loopback
syncs:
  patients:
    title: Patients
    source:
      kind: rest
      url: "{base}/next_link/patients"
      query: {{ per_page: {per_page} }}
      records: /patients
      pagination: {{ style: next_link, next: /links/next, total: /total_entries }}
    target: {{ table: patients, key: [id] }}
"""


def start_upstream(records, per_page):
    """Starts the fake upstream with pages pre-rendered; returns (process, base URL)."""
    p = subprocess.Popen([sys.executable, FAKE_UPSTREAM, "--records", str(records),
                          "--port", "0", "--per-page", str(per_page),
                          "--prerender", "next_link,csv"],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    line = p.stdout.readline().strip()
    if not line.startswith("http://"):
        p.kill()
        raise SystemExit("the fake upstream did not start (printed %r)" % line)
    return p, line


def control(base, doc=None):
    """GET (doc None) or POST /_control on the fake upstream; returns the JSON answer."""
    host, port = base[len("http://"):].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        if doc is None:
            c.request("GET", "/_control")
        else:
            c.request("POST", "/_control", body=json.dumps(doc),
                      headers={"Content-Type": "application/json"})
        return json.loads(c.getresponse().read())
    finally:
        c.close()


def timed(cmd, cwd=None):
    """Runs cmd under /usr/bin/time -v; returns (seconds, peak RSS in KiB, stdout)."""
    start = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, cwd=cwd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.monotonic() - start
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit("command failed: %s" % " ".join(cmd))
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    return elapsed, int(m.group(1)) if m else 0, p.stdout


def ferry_sync(ferry, base_dir, name, config, records):
    d = os.path.join(base_dir, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, "ferry.yaml"), "w") as f:
        f.write(config)
    t, rss, out = timed([ferry, "sync", "patients", "--config", os.path.join(d, "ferry.yaml")],
                        cwd=d)
    if "Processed %d patients: %d created" % (records, records) not in out:
        sys.stderr.write(out)
        raise SystemExit("ferry sync (%s) did not create %d rows" % (name, records))
    shutil.rmtree(d)
    return t, rss


def upstream_alone(base, per_page):
    """Seconds for a Python client to fetch every next_link page on one connection."""
    host, port = base[len("http://"):].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    path = "/next_link/patients?per_page=%d" % per_page
    pages = 0
    start = time.monotonic()
    while path:
        c.request("GET", path)
        body = c.getresponse().read()
        pages += 1
        # The next link is at the end of the page: no need to parse the records.
        m = re.search(rb'"next":"([^"]+)"', body[-400:])
        path = m.group(1).decode()[len(base):] if m else None
    c.close()
    return time.monotonic() - start, pages


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--records", type=int, default=200000)
    ap.add_argument("--per-page", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    ferry = os.path.abspath(args.ferry)
    n = args.records
    proc, base = start_upstream(n, args.per_page)
    workdir = tempfile.mkdtemp(prefix="ferry-bench-rest-")
    csv_times, rest_times, csv_rss, rest_rss, pages = [], [], [], [], []
    try:
        alone, alone_pages = upstream_alone(base, args.per_page)
        csv_config = CSV_CONFIG.format(base=base) + FIELDS.replace("CITY", "")
        rest_config = (REST_CONFIG.format(base=base, per_page=args.per_page)
                       + FIELDS.replace("CITY", "{ pointer: /address/city }"))
        for k in range(args.repeat):
            t, r = ferry_sync(ferry, workdir, "csv-%d" % k, csv_config, n)
            csv_times.append(t)
            csv_rss.append(r)
            control(base, {"reset_requests": True})
            t, r = ferry_sync(ferry, workdir, "rest-%d" % k, rest_config, n)
            rest_times.append(t)
            rest_rss.append(r)
            pages.append(control(base)["counts"].get("/next_link/patients", 0))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    csv_t = statistics.median(csv_times)
    rest_t = statistics.median(rest_times)
    csv_rate = n / csv_t if csv_t > 0 else 0.0
    rest_rate = n / rest_t if rest_t > 0 else 0.0
    print("Ferry REST benchmark: %d records, 5 columns, %d per page (%d requests a run), "
          "median of %d runs" % (n, args.per_page, max(pages), args.repeat))
    print("  %-40s %10.0f rows/s  (%.2f s)  peak RSS %.1f MiB" %
          ("baseline ferry sync of one CSV over HTTP", csv_rate, csv_t, max(csv_rss) / 1024))
    print("  %-40s %10.0f rows/s  (%.2f s)  peak RSS %.1f MiB  %.2fx baseline" %
          ("ferry sync of the REST source", rest_rate, rest_t, max(rest_rss) / 1024,
           rest_rate / csv_rate if csv_rate else 0.0))
    results.record("rest.%d.ratio" % n, rest_rate / csv_rate if csv_rate else 0.0)
    print("  %-40s %10.0f rows/s  (%.2f s, %d pages, Python client)" %
          ("fake upstream alone", n / alone if alone > 0 else 0.0, alone, alone_pages))


if __name__ == "__main__":
    main()
