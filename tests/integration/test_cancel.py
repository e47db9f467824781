"""Ctrl-C during a sync: the run rolls back, is recorded as cancelled, and ferry exits 130.

Off a terminal, ferry prints a progress line at the start and then at most every two seconds
(`progress run=N phase=applying percent=.. rows=..`); the tests read stderr as it comes and
send SIGINT once the run is under way. While the run holds its write transaction, other
connections still read the old rows (WAL).
"""

import errno
import fcntl
import os
import re
import signal
import threading
import time
import unittest

import ferrytest
from ferrytest import drain, people_rows, read_line_until, sync_config

HEADER = ["id", "name", "email"]
PROGRESS = re.compile(r"^progress run=(\d+) phase=(\w+) percent=(\d+) rows=(\d+) ")


def write_rows_file(path, n):
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,name,email\n")
        for start in range(0, n, 10000):
            f.write("".join("P%07d,Person %d,p%d@example.com\n" % (i, i, i)
                            for i in range(start, min(n, start + 10000))))


class FifoWriter(threading.Thread):
    """Feeds CSV rows into a named pipe: the header and initial_rows, then rows_per_batch rows
    every pause seconds (or, with rows_per_batch=0, nothing more: the pipe stays open and
    silent). After stop() a streaming writer goes on until ferry stops reading (or 10 s), so
    ferry is never starved; a silent one closes the pipe. limit_s bounds the whole thing."""

    def __init__(self, path, initial_rows=0, rows_per_batch=500, pause=0.02, limit_s=30):
        super().__init__(daemon=True)
        self.path = path
        self.initial_rows = initial_rows
        self.rows_per_batch = rows_per_batch
        self.pause = pause
        self.limit_s = limit_s
        self.stopping = threading.Event()
        self.opened = threading.Event()
        self.rows_written = 0
        self.error = None

    def open_writer(self, deadline):
        while time.monotonic() < deadline and not self.stopping.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as e:
                if e.errno != errno.ENXIO:  # no reader yet
                    raise
                time.sleep(0.01)
                continue
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
            return fd
        return None

    @staticmethod
    def rows(start, n):
        return "".join("S%07d,Streamed %d,s%d@example.com\n" % (k, k, k)
                       for k in range(start, start + n)).encode()

    def run(self):
        start = time.monotonic()
        fd = self.open_writer(start + 10)
        if fd is None:
            self.error = "ferry never opened the pipe"
            return
        stop_deadline = None
        try:
            os.write(fd, b"id,name,email\n" + self.rows(0, self.initial_rows))
            i = self.rows_written = self.initial_rows
            self.opened.set()
            while time.monotonic() - start < self.limit_s:
                if self.rows_per_batch == 0:
                    if self.stopping.wait(self.pause):
                        break
                    continue
                if self.stopping.is_set() and stop_deadline is None:
                    stop_deadline = time.monotonic() + 10
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    break
                os.write(fd, self.rows(i, self.rows_per_batch))
                i += self.rows_per_batch
                self.rows_written = i
                time.sleep(self.pause)
        except BrokenPipeError:
            pass  # ferry stopped reading: what we wait for
        finally:
            os.close(fd)

    def stop(self):
        self.stopping.set()
        self.join(timeout=15)


def process_state(pid):
    """The state letter of /proc/PID/stat (R running, S sleeping...), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class CancelTest(ferrytest.FerryTestCase):
    def wait_exit(self, proc, timeout=15):
        try:
            return proc.wait(timeout=timeout)
        except Exception:
            proc.kill()
            self.fail("ferry did not exit within %ds of SIGINT" % timeout)

    def assert_cancelled(self, proc, run_id, q):
        code = self.wait_exit(proc)
        rest = drain(q)
        out = proc.stdout.read().decode("utf-8", "replace")
        self.assertEqual(code, 130, "stdout:\n%s\nstderr (rest):\n%s" % (out, "".join(rest)))
        self.assertRegex(out, r"^Run %d cancelled in " % run_id)
        self.assertIn("Sync of t was cancelled. Nothing was changed.", out)
        run = self.last_run()
        self.assertEqual(run["id"], run_id)
        self.assertEqual(run["status"], "cancelled")
        self.assertIsNone(run["error"])
        self.assertEqual((run["created"], run["updated"], run["unchanged"], run["failed"],
                          run["deleted"]), (0, 0, 0, 0, 0))
        self.assertIsNotNone(run["finished_at"])
        self.assertEqual(self.changes(run_id), [])
        return out

    def test_sigint_mid_apply_rolls_back_and_readers_keep_the_old_rows(self):
        # Previous contents, from a regular file.
        self.write_config({"t": sync_config("people.csv", on_missing="delete")})
        self.write_csv("people.csv", HEADER, people_rows(3))
        self.sync("t")
        before = self.table_rows("people")

        # Now the source is a pipe fed as slowly as we like: the run is still applying when
        # its first 'applying' progress line appears (two seconds in).
        os.remove(self.path("people.csv"))
        os.mkfifo(self.path("people.csv"))
        writer = FifoWriter(self.path("people.csv"))
        writer.start()
        self.addCleanup(writer.stop)
        proc = self.start_ferry("sync", "t")
        deadline = time.monotonic() + 20

        def applying_with_rows(line):
            m = PROGRESS.match(line)
            return bool(m) and m.group(2) == "applying" and int(m.group(4)) > 0
        line, seen, q = read_line_until(proc.stderr, applying_with_rows, deadline)
        self.assertIsNotNone(line, "no 'applying' progress line in time; stderr so far: %r "
                             "(writer: %s)" % (seen, writer.error))
        self.assertEqual(PROGRESS.match(line).group(1), "2")

        # Mid-run, with thousands of rows written in the open transaction, another
        # connection still reads exactly the old table, and the run is recorded as running.
        self.assertEqual(self.table_rows("people"), before)
        self.assertEqual(self.last_run()["status"], "running")

        proc.send_signal(signal.SIGINT)
        out = self.assert_cancelled(proc, 2, q)
        writer.stop()
        self.assertGreater(writer.rows_written, 0)
        self.assertEqual(self.table_rows("people"), before)
        code, out, _ = self.run_ferry("runs", "--limit", "1")
        self.assertRegex(out, r"\n2\s+cancelled\s+t\s+")

        # The next run works normally.
        os.remove(self.path("people.csv"))
        self.write_csv("people.csv", HEADER, people_rows(4))
        out, _ = self.sync("t")
        self.assertIn("1 created, 0 updated, 3 unchanged", out)

    def test_sigint_on_first_progress_line_of_large_first_load_leaves_no_table(self):
        self.write_config({"t": sync_config("people.csv")})
        write_rows_file(self.path("people.csv"), 300_000)
        proc = self.start_ferry("sync", "t")
        line, seen, q = read_line_until(proc.stderr, PROGRESS.match, time.monotonic() + 20)
        self.assertIsNotNone(line, "no progress line; stderr: %r" % seen)
        proc.send_signal(signal.SIGINT)
        code = self.wait_exit(proc)
        if code == 0:
            self.skipTest("the 300k-row run finished before SIGINT arrived (machine too fast)")
        self.assert_cancelled(proc, 1, q)
        # The table was created inside the run's transaction: rolled back with it.
        self.assertFalse(self.table_exists("people"))

    def test_sigint_while_http_source_stalls_cancels_promptly(self):
        self.write_config({"t": sync_config(
            self.server.route("/slow.csv", body="id,name,email\nP1,A,a@example.com\n",
                              delay=20), source={"timeout": "60s"})})
        proc = self.start_ferry("sync", "t")
        line, seen, q = read_line_until(proc.stderr, PROGRESS.match, time.monotonic() + 10)
        self.assertIsNotNone(line, "no progress line; stderr: %r" % seen)
        # Wait until the request is in flight, then cancel.
        deadline = time.monotonic() + 10
        while not self.server.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertTrue(self.server.requests, "ferry never sent its request")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        self.wait_exit(proc, timeout=8)
        self.assertLess(time.monotonic() - t0, 5, "cancel waited for the stalled server")
        self.assert_cancelled(proc, 1, q)
        self.assertFalse(self.table_exists("people"))


class BlockedSourceTest(ferrytest.FerryTestCase):
    """A source file that is slow to give bytes (here a named pipe): Ctrl-C must not wait for
    it, and must not be reported as an I/O error."""

    def start_on_pipe(self, writer):
        self.write_config({"t": sync_config("people.csv")})
        os.mkfifo(self.path("people.csv"))
        if writer is not None:
            writer.start()
            self.addCleanup(writer.stop)
        proc = self.start_ferry("sync", "t")
        line, seen, q = read_line_until(proc.stderr, PROGRESS.match, time.monotonic() + 10)
        self.assertIsNotNone(line, "no progress line; stderr: %r" % seen)
        if writer is not None:
            self.assertTrue(writer.opened.wait(10), writer.error)
        # Let ferry reach the blocking open or read (microseconds after the line): wait until
        # it is seen asleep a few times in a row.
        deadline = time.monotonic() + 10
        asleep = 0
        while asleep < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
            asleep = asleep + 1 if process_state(proc.pid) == "S" else 0
        self.assertEqual(asleep, 4, "ferry never blocked on the pipe")
        return proc, q

    def assert_prompt_cancel(self, proc, q):
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=5)
        except Exception:
            proc.kill()
            self.fail("ferry blocked on its source ignored SIGINT for 5 s")
        self.assertLess(time.monotonic() - t0, 3)
        out = proc.stdout.read().decode("utf-8", "replace")
        self.assertEqual(code, 130, out)
        self.assertIn("Sync of t was cancelled. Nothing was changed.", out)
        run = self.last_run()
        self.assertEqual((run["status"], run["error"], run["error_code"]),
                         ("cancelled", None, "cancelled"))
        self.assertFalse(self.table_exists("people"))

    def test_sigint_while_opening_a_pipe_nobody_writes_cancels(self):
        proc, q = self.start_on_pipe(None)
        self.assert_prompt_cancel(proc, q)

    def test_sigint_while_reading_a_silent_pipe_cancels(self):
        proc, q = self.start_on_pipe(FifoWriter(self.path("people.csv"), initial_rows=10,
                                                rows_per_batch=0))
        self.assert_prompt_cancel(proc, q)

    # A ferry that dies without recording how its run ended (kill -9, a crash, the second
    # Ctrl-C) leaves the run 'running'; the next sync sees its owner process is gone, marks
    # it 'interrupted' and runs.
    def test_sync_after_ferry_was_killed_mid_run_can_run_again(self):
        proc, q = self.start_on_pipe(FifoWriter(self.path("people.csv"), initial_rows=10,
                                                rows_per_batch=0))
        proc.kill()
        self.assertEqual(proc.wait(timeout=5), -signal.SIGKILL)
        self.assertEqual(self.last_run()["status"], "running")
        os.remove(self.path("people.csv"))
        self.write_csv("people.csv", HEADER, people_rows(2))
        code, out, err = self.run_ferry("sync", "t")
        self.assertEqual(code, 0, out + err)
        runs = self.query("SELECT status, error FROM ferry_runs ORDER BY id")
        self.assertEqual([r[0] for r in runs], ["interrupted", "succeeded"])
        self.assertIn("ended before the run finished", runs[0][1])


if __name__ == "__main__":
    ferrytest.main()
