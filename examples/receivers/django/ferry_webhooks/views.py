"""A Django view receiving Ferry's signed webhooks.

Mount it (your project's urls.py):

    from django.urls import include, path
    urlpatterns = [..., path("", include("ferry_webhooks.urls"))]   # POST /ferry/webhooks

and set FERRY_WEBHOOK_SECRETS = [os.environ["FERRY_WEBHOOK_SECRET"]] in settings (several
while a secret is rotated). What a request must pass before any handler runs:

- a `Ferry-Signature: t=UNIX_SECONDS,v1=HEX[,v1=HEX...]` header where one v1 is the
  HMAC-SHA256, in lower-case hex, of "{t}.{raw body}" with one of the secrets (compared with
  hmac.compare_digest, in constant time);
- t within FERRY_WEBHOOK_TOLERANCE seconds (300) of our clock, so a captured request cannot
  be sent again later;
- a JSON body whose delivery_id equals the `Ferry-Delivery` header (the body is signed, the
  header is not: the id remembered is the body's).

Replays: each delivery id is added to Django's cache (cache.add, atomic on Redis, Memcached
and the database cache) for 48 hours, longer than Ferry retries one delivery. Use a cache
that all your processes share; the default per-process memory cache only protects one.

Answers: 200 {"ok": true} once the handlers (signals.py) have returned; 200 {"ok": true,
"duplicate": true} for a delivery id already handled (a 2xx stops Ferry's retries; the
handlers do not run twice); 400 for a request that is not a Ferry delivery; 401 for a wrong
signature or a stale timestamp; 500 when a handler raised (the id is forgotten again, so
Ferry's retry runs the handlers anew).
"""

import hashlib
import hmac
import json
import logging
import re
import time

from django.conf import settings
from django.core.cache import cache
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from .signals import record_changed, records_batch, run_finished

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE = 300
REMEMBER_SECONDS = 48 * 3600
MAX_DELIVERY_ID = 200
MAX_SIGNATURES = 8
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class Rejected(Exception):
    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def parse_signature_header(value):
    """(t, [v1 hex, ...]) from a Ferry-Signature value, or None when it is malformed."""
    if not value:
        return None
    t, v1 = None, []
    for part in value.split(","):
        name, eq, val = part.partition("=")
        if not eq:
            return None
        name, val = name.strip(), val.strip()
        if name == "t":
            if not TIMESTAMP.match(val):
                return None
            t = int(val)
        elif name == "v1":
            if len(v1) >= MAX_SIGNATURES:
                return None
            v1.append(val)
        # other schemes (v2=...) are ignored, as a newer Ferry may add them
    if t is None or not v1:
        return None
    return t, v1


def verify_signature(raw_body, header, secrets, tolerance=DEFAULT_TOLERANCE, now=None):
    """Raises Rejected unless header signs raw_body (bytes) with one of secrets, recently."""
    parsed = parse_signature_header(header)
    if parsed is None:
        raise Rejected(400, "missing or malformed Ferry-Signature header")
    t, candidates = parsed
    now = int(time.time()) if now is None else now
    if abs(now - t) > tolerance:
        raise Rejected(401, "timestamp outside the tolerance")
    signed = b"%d." % t + raw_body
    match = False
    for secret in secrets:
        expected = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
        for hex_value in candidates:
            # no early exit: every candidate is compared, each in constant time
            if HEX64.match(hex_value) and hmac.compare_digest(expected, hex_value):
                match = True
    if not match:
        raise Rejected(401, "signature mismatch")


def _secrets():
    secrets = [s for s in getattr(settings, "FERRY_WEBHOOK_SECRETS", []) if s]
    if not secrets:
        raise RuntimeError("FERRY_WEBHOOK_SECRETS is empty: set FERRY_WEBHOOK_SECRET")
    return secrets


def _dispatch(event, delivery_id):
    if event.get("type") == "run.finished":
        run_finished.send(sender=None, run=event.get("run"), event=event)
    elif event.get("type") == "run.records":
        batch = {"run_id": event.get("run_id"), "seq": event.get("seq"),
                 "last": event.get("last"), "delivery_id": delivery_id}
        records_batch.send(sender=None, event=event)
        for r in event.get("records") or []:
            record_changed.send(sender=None, step=r.get("step"), outcome=r.get("outcome"),
                                key=r.get("key"), diff=r.get("diff"), batch=batch)
    # other types: acknowledged and ignored, so a newer Ferry does not retry them


@csrf_exempt
@require_POST
def ferry_webhook(request):
    raw = request.body
    try:
        verify_signature(raw, request.headers.get("Ferry-Signature"), _secrets(),
                         getattr(settings, "FERRY_WEBHOOK_TOLERANCE", DEFAULT_TOLERANCE))
        try:
            event = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise Rejected(400, "body is not JSON")
        delivery_id = event.get("delivery_id") if isinstance(event, dict) else None
        if not isinstance(delivery_id, str) or not 0 < len(delivery_id) <= MAX_DELIVERY_ID:
            raise Rejected(400, "no delivery_id in the body")
        if request.headers.get("Ferry-Delivery") != delivery_id:
            raise Rejected(400, "Ferry-Delivery header differs from the body")
    except Rejected as e:
        return JsonResponse({"error": e.reason}, status=e.status)

    key = "ferry-delivery:" + hashlib.sha256(delivery_id.encode("utf-8")).hexdigest()
    if not cache.add(key, 1, timeout=REMEMBER_SECONDS):
        return JsonResponse({"ok": True, "duplicate": True})
    try:
        _dispatch(event, delivery_id)
    except Exception:
        cache.delete(key)
        log.exception("Ferry webhook: a handler failed for delivery %s", delivery_id)
        return JsonResponse({"error": "handler failed"}, status=500)
    return JsonResponse({"ok": True})
