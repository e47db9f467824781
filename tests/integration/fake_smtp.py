"""fake_smtp.py - a loopback SMTP server for Ferry's e-mail tests.

It behaves like the submission servers Ferry meets (Postfix, Gmail, Microsoft 365) where it
matters: on smtp:// it offers STARTTLS and offers AUTH only once TLS is up, refusing mail
before that ("530 5.7.0 Must issue a STARTTLS command first"); on smtps:// TLS starts with the
first byte; a wrong login gets "535 5.7.8 Username and Password not accepted"; a sender must
log in when a login is configured. Messages received are kept (envelope and data, with the
leading dot of dot-stuffed lines removed) for the test to read.

TLS uses a certificate for 127.0.0.1 made by the openssl command in a directory the caller
gives (make_certificate()); Ferry is pointed at it with smtp.ca_file.

Only the Python standard library and the openssl command are used.
"""

import base64
import os
import socket
import socketserver
import ssl
import subprocess
import threading


def make_certificate(directory):
    """Writes cert.pem and key.pem (self-signed, for 127.0.0.1 and localhost) into directory
    and returns (cert_path, key_path)."""
    cert = os.path.join(directory, "smtp-cert.pem")
    key = os.path.join(directory, "smtp-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", key, "-out", cert],
        check=True, capture_output=True, timeout=60)
    return cert, key


class Message:
    def __init__(self, mail_from, rcpt_to, data, user):
        self.mail_from = mail_from
        self.rcpt_to = rcpt_to
        self.data = data  # bytes, CRLF line ends, dot-stuffing undone
        self.user = user  # who logged in, or None

    @property
    def text(self):
        return self.data.decode("utf-8", "replace")

    def header(self, name):
        head = self.text.split("\r\n\r\n", 1)[0]
        unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ")
        for line in unfolded.split("\r\n"):
            if line.lower().startswith(name.lower() + ":"):
                return line.split(":", 1)[1].strip()
        return None

    @property
    def body(self):
        return self.text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in self.text else ""


class _Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def setup(self):
        srv = self.server.fake
        if srv.implicit_tls:
            self.request = srv.context.wrap_socket(self.request, server_side=True)
        super().setup()
        self.tls = srv.implicit_tls
        self.user = None

    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(4096)
        if not line:
            raise ConnectionError("closed")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def starttls(self):
        self.send("220 2.0.0 Ready to start TLS")
        self.wfile.flush()
        self.request = self.server.fake.context.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")
        self.wfile = self.request.makefile("wb")
        self.tls = True
        self.user = None

    def auth(self, args):
        srv = self.server.fake
        parts = args.split()
        mech = parts[0].upper() if parts else ""
        if mech == "PLAIN":
            blob = parts[1] if len(parts) > 1 else None
            if blob is None:
                self.send("334 ")
                blob = self.readline()
            try:
                _, user, password = base64.b64decode(blob).decode().split("\0")
            except Exception:
                self.send("501 5.5.2 Cannot decode response")
                return
        elif mech == "LOGIN":
            self.send("334 " + base64.b64encode(b"Username:").decode())
            user = base64.b64decode(self.readline()).decode()
            self.send("334 " + base64.b64encode(b"Password:").decode())
            password = base64.b64decode(self.readline()).decode()
        else:
            self.send("504 5.5.4 Unrecognized authentication type")
            return
        srv.logins.append(user)
        if (user, password) == (srv.user, srv.password):
            self.user = user
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Username and Password not accepted")

    def handle(self):
        srv = self.server.fake
        self.send("220 fake.smtp.test ESMTP ready")
        mail_from, rcpt = None, []
        while True:
            try:
                line = self.readline()
            except (ConnectionError, OSError, ssl.SSLError):
                return
            verb, _, args = line.partition(" ")
            verb = verb.upper()
            if verb in ("EHLO", "HELO"):
                lines = ["fake.smtp.test", "8BITMIME", "SIZE 10485760"]
                if not self.tls and srv.context is not None:
                    lines.append("STARTTLS")
                if self.tls and srv.user is not None:
                    lines.append("AUTH PLAIN LOGIN")
                for i, text in enumerate(lines):
                    self.send(("250 " if i == len(lines) - 1 else "250-") + text)
            elif verb == "STARTTLS" and not self.tls and srv.context is not None:
                try:
                    self.starttls()
                except (OSError, ssl.SSLError):
                    return
            elif verb == "AUTH":
                if not self.tls:
                    self.send("530 5.7.0 Must issue a STARTTLS command first")
                else:
                    self.auth(args)
            elif verb == "MAIL":
                if srv.context is not None and not self.tls:
                    self.send("530 5.7.0 Must issue a STARTTLS command first")
                elif srv.user is not None and self.user is None:
                    self.send("530 5.7.0 Authentication required")
                elif srv.fail_next > 0:
                    srv.fail_next -= 1
                    self.send("451 4.3.0 Temporary failure, try again later")
                else:
                    mail_from, rcpt = args.partition(":")[2].strip(), []
                    self.send("250 2.1.0 OK")
            elif verb == "RCPT":
                if mail_from is None:
                    self.send("503 5.5.1 MAIL first")
                else:
                    rcpt.append(args.partition(":")[2].strip())
                    self.send("250 2.1.5 OK")
            elif verb == "DATA":
                if not rcpt:
                    self.send("503 5.5.1 RCPT first")
                    continue
                self.send("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    raw = self.rfile.readline(65536)
                    if not raw:
                        return
                    if raw in (b".\r\n", b".\n"):
                        break
                    data.append(raw[1:] if raw.startswith(b".") else raw)
                with srv.lock:
                    srv.messages.append(Message(mail_from, rcpt, b"".join(data), self.user))
                self.send("250 2.0.0 OK queued")
                mail_from, rcpt = None, []
            elif verb == "RSET":
                mail_from, rcpt = None, []
                self.send("250 2.0.0 OK")
            elif verb == "NOOP":
                self.send("250 2.0.0 OK")
            elif verb == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Command not recognized")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeSmtp:
    """A loopback SMTP server. cert/key: a certificate (make_certificate()) to offer STARTTLS
    (or TLS from the first byte with implicit_tls); user/password: the login it requires."""

    def __init__(self, cert=None, key=None, implicit_tls=False, user=None, password=None):
        self.context = None
        if cert is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(cert, key)
        self.implicit_tls = implicit_tls
        self.user, self.password = user, password
        self.messages = []
        self.logins = []
        self.fail_next = 0  # answer this many MAIL commands with a 451
        self.lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self):
        return ("smtps" if self.implicit_tls else "smtp") + "://127.0.0.1:%d" % self.port

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def received(self):
        with self.lock:
            return list(self.messages)
