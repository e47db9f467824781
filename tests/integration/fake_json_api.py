"""fake_json_api.py - a loopback JSON API for the integration tests: each test gives it the
function that answers, and reads back the requests it received (the REST examples' vendors,
an incremental API)."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Fake:
    """A loopback HTTP server whose answer() (method, path, query dict, headers) returns
    (status, headers, JSON body); every request is kept in requests."""

    def __init__(self, answer):
        self.requests = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake.lock:
                    fake.requests.append({"path": self.path, "route": parts.path,
                                          "query": query, "headers": dict(self.headers.items())})
                status, headers, body = answer(self, parts.path, query)
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
