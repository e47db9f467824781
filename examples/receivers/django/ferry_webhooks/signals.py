"""What the receiver dispatches. Connect your handlers (in an AppConfig.ready(), or a module
your urls.py imports):

    from django.dispatch import receiver
    from ferry_webhooks.signals import run_finished, record_changed

    @receiver(run_finished)
    def on_run(sender, run, event, **kwargs):
        if run["status"] == "failed":
            notify_admins.delay(run["id"])

    @receiver(record_changed)
    def on_record(sender, step, outcome, key, diff, batch, **kwargs):
        if step == "therapists" and outcome == "created":
            send_welcome.delay(key)

A handler that raises makes the delivery answer 500, so Ferry sends it again later (and the
handlers run again): keep them short and idempotent, and enqueue slow work.
"""

from django.dispatch import Signal

# sent with run (the API's run object plus url) and event (the whole body)
run_finished = Signal()
# sent once per record of a run.records batch, in the batch's order: step, outcome (created,
# updated, deleted, flagged), key, diff ({"field": [old, new]} for updates, else None) and
# batch ({"run_id", "seq", "last", "delivery_id"})
record_changed = Signal()
# sent once per run.records batch, before its records, with event (the whole body)
records_batch = Signal()
