"""Ferry as it is installed: the Debian package, `cmake --install`, the systemd unit, the
sd_notify protocol, and the container image.

The package is made once per test process with cpack from the build tree that holds the ferry
under test (FERRY_BIN's directory: cpack packs what that tree built, it builds nothing), then
read with dpkg-deb: its control fields (Depends computed from the linked libraries, the
conffile), its paths, and the extracted binary and configuration, which must run as shipped
(the configuration's /var/lib/ferry moved into the test's directory, or its database
replaced by the test's PostgreSQL database on the pgsuite run). The unit is checked with
`systemd-analyze verify` (when the machine has it) on a copy whose ExecStart names the
extracted binary. The sd_notify test plays systemd: an AF_UNIX datagram socket named by
NOTIFY_SOCKET, with WATCHDOG_USEC set, receives READY=1, the watchdog's WATCHDOG=1 and, after
SIGTERM, STOPPING=1. The container image is built only where a container engine answers.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import ferrytest
from ferrytest import FERRY_BIN, ON_POSTGRES, SOURCE_ROOT

# Upper bound for the tools this test runs (cpack, dpkg-deb, systemd-analyze).
TOOL_TIMEOUT = 180

_PACKAGE = {}  # the .deb and where it was made, once per process


def build_dir():
    """The build tree that made FERRY_BIN (its CPackConfig.cmake is beside the binary)."""
    d = os.path.dirname(os.path.abspath(FERRY_BIN))
    if not os.path.exists(os.path.join(d, "CPackConfig.cmake")):
        raise unittest.SkipTest("no CPackConfig.cmake beside %s" % FERRY_BIN)
    return d


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT, **kwargs)


def package():
    """The path of the .deb cpack makes from the build tree (made on first use)."""
    if "deb" not in _PACKAGE:
        for tool in ("cpack", "dpkg-deb", "dpkg-shlibdeps", "file"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest("%s is missing (make deps installs it)" % tool)
        out = tempfile.mkdtemp(prefix="ferry-pkg-")
        _PACKAGE["dir"] = out
        r = run(["cpack", "-G", "DEB", "--config",
                 os.path.join(build_dir(), "CPackConfig.cmake"), "-B", out])
        if r.returncode != 0:
            raise AssertionError("cpack exited %d\n%s\n%s" % (r.returncode, r.stdout, r.stderr))
        debs = [f for f in os.listdir(out) if f.endswith(".deb")]
        if len(debs) != 1:
            raise AssertionError("cpack made %r in %s" % (debs, out))
        _PACKAGE["deb"] = os.path.join(out, debs[0])
    return _PACKAGE["deb"]


def tearDownModule():
    if "dir" in _PACKAGE:
        shutil.rmtree(_PACKAGE["dir"], ignore_errors=True)


def control_field(info, name):
    m = re.search(r"^ %s: (.*)$" % re.escape(name), info, re.M)
    return m.group(1) if m else None


class PackageTest(ferrytest.FerryTestCase):
    def extract(self):
        """The package's files below a directory of the test's own; returns it."""
        root = self.path("root")
        r = run(["dpkg-deb", "-x", package(), root])
        self.assertEqual(r.returncode, 0, r.stderr)
        return root

    def test_control_names_dependencies_from_linked_libraries_and_the_conffile(self):
        r = run(["dpkg-deb", "-I", package()])
        self.assertEqual(r.returncode, 0, r.stderr)
        info = r.stdout
        self.assertEqual(control_field(info, "Package"), "ferry")
        depends = control_field(info, "Depends") or ""
        names = {d.strip().split(" ")[0] for d in depends.split(",")}
        for lib in ("libc6", "libcurl4", "libsqlite3-0", "libpq5", "libsystemd0", "libfyaml0",
                    "libjansson4", "libmicrohttpd12", "libsodium23"):
            self.assertIn(lib, names, "Depends: %s" % depends)
        r = run(["dpkg-deb", "-f", package(), "Version"])
        self.assertRegex(r.stdout.strip(), r"^\d+\.\d+\.\d+$")
        ctrl = self.path("ctrl")
        os.makedirs(ctrl)
        r = run(["dpkg-deb", "-e", package(), ctrl])
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(ctrl, "conffiles")) as f:
            self.assertEqual(f.read().split(), ["/etc/ferry/ferry.yaml"])
        with open(os.path.join(ctrl, "postinst")) as f:
            postinst = f.read()
        self.assertIn("systemd-sysusers", postinst)
        self.assertIn("useradd --system", postinst)
        self.assertIn("install -d -o ferry -g ferry", postinst)
        for script in ("postinst", "prerm", "postrm"):
            p = os.path.join(ctrl, script)
            self.assertTrue(os.access(p, os.X_OK), script)
            r = run(["sh", "-n", p])
            self.assertEqual(r.returncode, 0, "%s: %s" % (script, r.stderr))
        with open(os.path.join(ctrl, "postrm")) as f:
            postrm = f.read()
        self.assertNotIn("rm -rf", postrm, "purge must not delete Ferry's data")

    def test_package_holds_binary_config_unit_sysusers_and_docs(self):
        r = run(["dpkg-deb", "-c", package()])
        self.assertEqual(r.returncode, 0, r.stderr)
        paths = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}
        for p in ("./usr/bin/ferry", "./etc/ferry/ferry.yaml",
                  "./usr/lib/systemd/system/ferry.service", "./usr/lib/sysusers.d/ferry.conf",
                  "./usr/share/doc/ferry/README.md", "./usr/share/doc/ferry/operations.md",
                  "./usr/share/doc/ferry/config.md"):
            self.assertIn(p, paths)
        self.assertFalse([p for p in paths if p.startswith("./usr/local")], paths)
        root = self.extract()
        with open(os.path.join(root, "usr/lib/sysusers.d/ferry.conf")) as f:
            self.assertEqual(f.read().strip(), 'u ferry - "Ferry data sync" /var/lib/ferry')
        # The configuration may hold secrets: not readable by every user.
        mode = os.stat(os.path.join(root, "etc/ferry/ferry.yaml")).st_mode & 0o777
        self.assertEqual(mode & 0o007, 0, oct(mode))

    def packaged_config(self, root):
        """The packaged ferry.yaml with /var/lib/ferry moved into the test's directory (on
        PostgreSQL: its database line naming the test's database); returns its path."""
        with open(os.path.join(root, "etc/ferry/ferry.yaml")) as f:
            text = f.read()
        self.assertIn("database: sqlite:/var/lib/ferry/ferry.db", text)
        self.assertIn("data_dir: /var/lib/ferry/data", text)
        self.assertIn("listen: 127.0.0.1:8080", text)
        state = self.path("state")
        os.makedirs(state)
        text = text.replace("/var/lib/ferry", state)
        if ON_POSTGRES:
            text = re.sub(r"^database: .*$", "database: " + self.database, text, flags=re.M)
        p = self.path("etc-ferry.yaml")
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_extracted_binary_checks_and_serves_the_packaged_config(self):
        root = self.extract()
        ferry = os.path.join(root, "usr/bin/ferry")
        r = run([ferry, "--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^ferry \d+\.\d+\.\d+")
        config = self.packaged_config(root)
        r = run([ferry, "check", "--config", config], cwd=self.dir, env=self.ferry_env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("OK, 0 syncs", r.stdout)
        proc = subprocess.Popen([ferry, "serve", "--listen", "127.0.0.1:0", "--config", config],
                                cwd=self.dir, env=self.ferry_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(self.reap, proc)
        port = self.listening_port(proc)
        self.assertEqual(self.healthz(port), 200)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)
        if not ON_POSTGRES:
            self.assertTrue(os.path.exists(self.path("state/ferry.db")))

    def test_unit_is_hardened_and_verifies(self):
        root = self.extract()
        with open(os.path.join(root, "usr/lib/systemd/system/ferry.service")) as f:
            unit = f.read()
        for line in ("Type=notify",
                     "ExecStart=/usr/bin/ferry serve --config /etc/ferry/ferry.yaml",
                     "ExecReload=/bin/kill -HUP $MAINPID", "User=ferry", "Group=ferry",
                     "StateDirectory=ferry", "WatchdogSec=30s", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                     "PrivateDevices=yes", "ProtectKernelTunables=yes",
                     "ProtectKernelModules=yes", "ProtectKernelLogs=yes",
                     "ProtectControlGroups=yes",
                     "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                     "RestrictNamespaces=yes", "LockPersonality=yes",
                     "MemoryDenyWriteExecute=yes", "RestrictRealtime=yes",
                     "RestrictSUIDSGID=yes", "SystemCallArchitectures=native",
                     "SystemCallFilter=@system-service", "CapabilityBoundingSet=",
                     "UMask=0027", "EnvironmentFile=-/etc/default/ferry",
                     "Restart=on-failure"):
            self.assertIn("\n" + line + "\n", unit)
        # Longer than the default shutdown_grace (30 s), so running runs may finish.
        m = re.search(r"^TimeoutStopSec=(\d+)s$", unit, re.M)
        self.assertIsNotNone(m)
        self.assertGreater(int(m.group(1)), 30)
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            print("systemd-analyze is missing: the unit is not verified here")
            return
        ferry = os.path.join(root, "usr/bin/ferry")
        copy = self.path("ferry.service")
        with open(copy, "w") as f:
            f.write(unit.replace("ExecStart=/usr/bin/ferry ", "ExecStart=%s " % ferry))
        r = run([analyze, "verify", copy])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # verify only warns about unknown keys and bad values: any line on the unit fails.
        self.assertNotIn(copy, r.stdout + r.stderr)

    def test_cmake_install_puts_everything_below_the_prefix(self):
        prefix = self.path("prefix")
        r = run(["cmake", "--install", build_dir(), "--prefix", prefix])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for p in ("bin/ferry", "etc/ferry/ferry.yaml", "lib/systemd/system/ferry.service",
                  "lib/sysusers.d/ferry.conf", "share/doc/ferry/operations.md"):
            self.assertTrue(os.path.exists(os.path.join(prefix, p)), p)
        with open(os.path.join(prefix, "lib/systemd/system/ferry.service")) as f:
            unit = f.read()
        self.assertIn("ExecStart=%s/bin/ferry serve --config %s/etc/ferry/ferry.yaml\n"
                      % (prefix, prefix), unit)

    # -- sd_notify --

    def notify_socket(self):
        """An AF_UNIX datagram socket as systemd's notification socket; returns (sock, path)."""
        d = tempfile.mkdtemp(prefix="ferry-n-")  # short: sun_path holds 108 bytes
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(path)
        return sock, path

    def serve_notified(self, path, extra):
        self.write_config({})
        env = self.ferry_env(dict({"NOTIFY_SOCKET": path}, **extra))
        proc = subprocess.Popen([FERRY_BIN, "serve", "--listen", "127.0.0.1:0"], cwd=self.dir,
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.addCleanup(self.reap, proc)
        return proc

    @staticmethod
    def receive(sock, predicate, timeout=30):
        """Notification datagrams until one satisfies predicate; returns (it, all received)."""
        seen = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = sock.recv(4096).decode("utf-8")
            except socket.timeout:
                break
            seen.append(msg)
            if predicate(msg):
                return msg, seen
        return None, seen

    def test_serve_tells_systemd_ready_watchdog_and_stopping(self):
        sock, path = self.notify_socket()
        proc = self.serve_notified(path, {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": None})
        port = self.listening_port(proc)
        ready, seen = self.receive(sock, lambda m: "READY=1" in m.split("\n"))
        self.assertIsNotNone(ready, seen)
        self.assertIn("STATUS=listening on http://127.0.0.1:%d/" % port, ready.split("\n"))
        self.assertEqual(self.healthz(port), 200)
        # Half of WATCHDOG_USEC apart: two pings show the loop keeps sending them.
        for _ in range(2):
            ping, seen = self.receive(sock, lambda m: m == "WATCHDOG=1")
            self.assertIsNotNone(ping, seen)
        proc.send_signal(signal.SIGTERM)
        stopping, seen = self.receive(sock, lambda m: m == "STOPPING=1")
        self.assertIsNotNone(stopping, seen)
        self.assertEqual(proc.wait(timeout=30), 0)

    def assert_ready_without_pings(self, extra):
        """Serves with NOTIFY_SOCKET and extra in the environment: READY=1 arrives, then no
        WATCHDOG=1 over several turns of the main loop (200 ms each), then STOPPING=1."""
        sock, path = self.notify_socket()
        proc = self.serve_notified(path, extra)
        self.listening_port(proc)
        ready, seen = self.receive(sock, lambda m: "READY=1" in m.split("\n"))
        self.assertIsNotNone(ready, seen)
        _, seen = self.receive(sock, lambda m: False, timeout=1.5)
        self.assertNotIn("WATCHDOG=1", seen)
        proc.send_signal(signal.SIGTERM)
        stopping, seen = self.receive(sock, lambda m: m == "STOPPING=1")
        self.assertIsNotNone(stopping, seen)
        self.assertEqual(proc.wait(timeout=30), 0)

    def test_no_watchdog_pings_when_systemd_set_no_watchdog(self):
        self.assert_ready_without_pings({"WATCHDOG_USEC": None, "WATCHDOG_PID": None})

    def test_watchdog_meant_for_another_process_is_not_pinged(self):
        self.assert_ready_without_pings({"WATCHDOG_USEC": "400000", "WATCHDOG_PID": "1"})

    # -- the container image --

    def test_container_image_builds_and_runs(self):
        engine = None
        for tool in ("docker", "podman"):
            if shutil.which(tool) is None:
                continue
            try:
                if run([tool, "info"]).returncode == 0:
                    engine = tool
                    break
            except subprocess.TimeoutExpired:
                continue
        if engine is None:
            print("no container engine reachable: the container image is not built here")
            self.skipTest("no container engine reachable: the container image is not built here")
        tag = "ferry-test-package:%d" % os.getpid()
        r = subprocess.run([engine, "build", "-t", tag, SOURCE_ROOT], capture_output=True,
                           text=True, timeout=1800)
        self.assertEqual(r.returncode, 0, r.stdout[-4000:] + r.stderr[-4000:])
        self.addCleanup(run, [engine, "rmi", "-f", tag])
        r = run([engine, "run", "--rm", tag, "ferry", "--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run([engine, "run", "--rm", tag, "ferry", "check", "--config",
                 "/etc/ferry/ferry.yaml"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = run([engine, "run", "--rm", tag, "id", "-un"])
        self.assertEqual(r.stdout.strip(), "ferry")

    def test_container_files_run_as_ferry_and_keep_the_password_out_of_git(self):
        def read(name):
            with open(os.path.join(SOURCE_ROOT, name)) as f:
                return f.read()
        docker = read("Dockerfile")
        self.assertEqual(re.findall(r"^FROM (\S+)", docker, re.M),
                         ["debian:bookworm-slim", "debian:bookworm-slim"])
        for line in ("USER ferry", "VOLUME /var/lib/ferry", "EXPOSE 8080",
                     "COPY packaging/container/ferry.yaml /etc/ferry/ferry.yaml"):
            self.assertIn("\n" + line + "\n", docker)
        self.assertRegex(docker, r"HEALTHCHECK .*\n.*curl -fsS http://127\.0\.0\.1:8080/healthz")
        self.assertRegex(docker, r'CMD \["ferry", "serve"')
        self.assertIn(".git", read(".dockerignore").split())
        # The container's config leaves the database to DATABASE_URL, and loads.
        config = read("packaging/container/ferry.yaml")
        self.assertNotRegex(config, r"(?m)^database:")
        p = self.path("container.yaml")
        with open(p, "w") as f:
            f.write(config.replace("/var/lib/ferry", self.path("state")))
        code, out, err = self.run_ferry("check", "--config", p)
        self.assertEqual(code, 0, out + err)
        # compose: the password only through the environment file, never a literal.
        compose = read("compose.yaml")
        self.assertIn("image: postgres:15", compose)
        self.assertIn("condition: service_healthy", compose)
        self.assertIn("pg_isready", compose)
        self.assertRegex(compose, r"POSTGRES_PASSWORD: \$\{FERRY_DB_PASSWORD:\?")
        self.assertRegex(compose, r"DATABASE_URL: postgres://ferry:\$\{FERRY_DB_PASSWORD:\?[^}]*\}@db")
        example = read("compose.env.example")
        self.assertRegex(example, r"(?m)^FERRY_DB_PASSWORD=example")
        self.assertIn(".env", read(".gitignore").split())

    # -- helpers --

    @staticmethod
    def reap(proc):
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()

    def listening_port(self, proc):
        line, seen, _ = ferrytest.read_line_until(proc.stdout, ferrytest.LISTENING.match,
                                                  time.monotonic() + 30)
        if line is None:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            self.fail("ferry serve printed no 'listening' line; stdout: %r; stderr:\n%s"
                      % (seen, err.decode("utf-8", "replace")))
        return int(ferrytest.LISTENING.match(line).group(1))

    @staticmethod
    def healthz(port):
        import http.client
        for _ in range(300):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                status = c.getresponse().status
                c.close()
                return status
            except OSError:
                time.sleep(0.05)
        return None


if __name__ == "__main__":
    unittest.main()
