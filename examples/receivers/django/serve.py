"""Serves the demo project (demo/settings.py) on 127.0.0.1 with the standard library's WSGI
server: a stand-in for gunicorn or uwsgi, enough for the tests and a try on a laptop.

    FERRY_WEBHOOK_SECRET=... PORT=8000 /usr/bin/python3 serve.py

PORT=0 takes a free port; the first line printed says which. Django comes from Debian's
python3-django, so run it with the Debian interpreter (/usr/bin/python3) where another
python3 comes first on PATH.
"""

import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

from django.core.wsgi import get_wsgi_application  # noqa: E402


class QuietHandler(WSGIRequestHandler):
    def log_message(self, fmt, *args):
        pass


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main():
    app = get_wsgi_application()
    server = make_server("127.0.0.1", int(os.environ.get("PORT", "8000")), app,
                         server_class=ThreadingWSGIServer, handler_class=QuietHandler)
    print("listening on http://127.0.0.1:%d/" % server.server_port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
