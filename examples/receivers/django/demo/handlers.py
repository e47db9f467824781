"""The demo's handlers: each writes what it received as a JSON line (to the file
FERRY_RECEIVER_LOG names, else to stdout), where a real app would refresh a cache, send a
welcome message or enqueue a job."""

import json
import os
import sys
import threading

from django.dispatch import receiver

from ferry_webhooks.signals import record_changed, records_batch, run_finished

_lock = threading.Lock()  # one line at a time from concurrent requests


def report(entry):
    line = json.dumps(entry) + "\n"
    path = os.environ.get("FERRY_RECEIVER_LOG")
    with _lock:
        if path:
            with open(path, "a") as f:
                f.write(line)
        else:
            sys.stdout.write(line)
            sys.stdout.flush()


@receiver(run_finished)
def on_run(sender, run, event, **kwargs):
    report({"event": "run", "delivery_id": event["delivery_id"], "run_id": run["id"],
            "sync": run["sync"], "status": run["status"], "user": run.get("user"),
            "url": run.get("url")})


@receiver(records_batch)
def on_batch(sender, event, **kwargs):
    report({"event": "batch", "delivery_id": event["delivery_id"], "run_id": event["run_id"],
            "seq": event["seq"], "last": event["last"], "count": len(event.get("records") or [])})


@receiver(record_changed)
def on_record(sender, step, outcome, key, diff, batch, **kwargs):
    report({"event": "record", "delivery_id": batch["delivery_id"], "run_id": batch["run_id"],
            "seq": batch["seq"], "step": step, "outcome": outcome, "key": key, "diff": diff})
