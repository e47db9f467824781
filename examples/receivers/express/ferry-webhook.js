'use strict';
/*
 * Ferry's signed webhooks in an Express app.
 *
 *   const express = require('express');
 *   const { ferryWebhook } = require('./ferry-webhook');
 *
 *   app.post('/ferry/webhooks',
 *     express.raw({ type: 'application/json', limit: '10mb' }),  // signed: the raw bytes
 *     ferryWebhook({
 *       secret: process.env.FERRY_WEBHOOK_SECRET,     // or [newSecret, oldSecret] while rotating
 *       onRun: async (run) => { ... },                // every run.finished
 *       onRecord: async (step, outcome, key, diff, batch) => { ... },  // each changed record
 *     }));
 *
 * What a request must pass before any handler runs:
 *   - a `Ferry-Signature: t=UNIX_SECONDS,v1=HEX[,v1=HEX...]` header where one v1 is the
 *     HMAC-SHA256, in lower-case hex, of "{t}.{raw body}" with one of our secrets (compared
 *     with crypto.timingSafeEqual, so the time taken says nothing about the right value);
 *   - t within toleranceSeconds (300) of our clock, so a captured request cannot be sent
 *     again later;
 *   - a JSON body whose delivery_id equals the `Ferry-Delivery` header (the body is signed,
 *     the header is not: the id we remember is the body's).
 *
 * Answers: 200 {"ok": true} once the handlers have returned; 200 {"ok": true, "duplicate":
 * true} for a delivery id already handled (Ferry retries a delivery whose answer it did not
 * get; a 2xx stops it, and the handlers do not run twice); 400 for a request that is not a
 * Ferry delivery; 401 for a wrong signature or a stale timestamp; 500 when a handler threw
 * (the id is forgotten again, so Ferry's retry runs the handlers anew). Keep handlers short
 * (enqueue a job for slow work): Ferry waits for the answer, and a slow one is retried.
 */

const crypto = require('crypto');

const DEFAULT_TOLERANCE_SECONDS = 300;
/* Ferry retries one delivery for up to 24 h: remember ids for longer than that. */
const DEFAULT_REMEMBER_MS = 48 * 3600 * 1000;
const MAX_DELIVERY_ID = 200;
const MAX_SIGNATURES = 8;

/*
 * The default replay store: delivery ids in this process's memory, each forgotten after
 * rememberMs. With several processes or restarts, pass a store of your own with the same two
 * methods (they may return promises), e.g. Redis: claim = SET ferry:ID 1 NX EX 172800.
 */
class MemoryReplayStore {
  constructor(rememberMs = DEFAULT_REMEMBER_MS) {
    this.rememberMs = rememberMs;
    this.seen = new Map(); /* id -> when it may be forgotten (ms), in insertion order */
  }

  /* true the first time id is claimed (and remembers it), false while it is remembered. */
  claim(id) {
    const now = Date.now();
    for (const [old, until] of this.seen) {
      if (until > now) break;
      this.seen.delete(old);
    }
    if (this.seen.has(id)) return false;
    this.seen.set(id, now + this.rememberMs);
    return true;
  }

  /* Forgets id: its handlers failed, so the next attempt must run them. */
  release(id) {
    this.seen.delete(id);
  }
}

/* { t, v1: [hex...] } from a Ferry-Signature header value, or null when it is malformed. */
function parseSignatureHeader(value) {
  if (typeof value !== 'string') return null;
  let t = null;
  const v1 = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return null;
    const name = part.slice(0, eq).trim();
    const val = part.slice(eq + 1).trim();
    if (name === 't') {
      if (!/^\d{1,12}$/.test(val)) return null;
      t = Number(val);
    } else if (name === 'v1') {
      if (v1.length >= MAX_SIGNATURES) return null;
      v1.push(val);
    }
    /* other schemes (v2=...) are ignored, as a newer Ferry may add them */
  }
  if (t === null || v1.length === 0) return null;
  return { t, v1 };
}

/*
 * Checks a delivery's signature. rawBody is a Buffer, header the Ferry-Signature value,
 * secrets a string or an array of strings. Returns { ok: true, t } or { ok: false, status,
 * reason } (400 malformed, 401 wrong or stale).
 */
function verifyFerrySignature(rawBody, header, secrets, options = {}) {
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const sig = parseSignatureHeader(header);
  if (sig === null)
    return { ok: false, status: 400, reason: 'missing or malformed Ferry-Signature header' };
  if (Math.abs(now - sig.t) > tolerance)
    return { ok: false, status: 401, reason: 'timestamp outside the tolerance' };
  const signed = Buffer.concat([Buffer.from(sig.t + '.'), rawBody]);
  let match = false;
  for (const secret of [].concat(secrets)) {
    const expected = crypto.createHmac('sha256', secret).update(signed).digest();
    for (const hex of sig.v1) {
      if (!/^[0-9a-f]{64}$/.test(hex)) continue;
      /* no early exit: every candidate is compared, each in constant time */
      if (crypto.timingSafeEqual(expected, Buffer.from(hex, 'hex'))) match = true;
    }
  }
  return match ? { ok: true, t: sig.t } : { ok: false, status: 401, reason: 'signature mismatch' };
}

function answer(res, status, body) {
  res.status(status).json(body);
}

/*
 * The middleware. options: secret (string, or array while rotating), onRun(run, event),
 * onRecord(step, outcome, key, diff, batch) called for each record of a run.records batch in
 * order (batch: { runId, seq, last, deliveryId }), onBatch(event) before those, replayStore
 * ({ claim, release }, default a MemoryReplayStore), toleranceSeconds (300).
 */
function ferryWebhook(options) {
  const secrets = [].concat(options.secret ?? []).filter((s) => typeof s === 'string' && s);
  if (secrets.length === 0) throw new Error('ferryWebhook: no secret (set FERRY_WEBHOOK_SECRET)');
  const replayStore = options.replayStore ?? new MemoryReplayStore();
  const onRun = options.onRun ?? (() => {});
  const onRecord = options.onRecord ?? (() => {});
  const onBatch = options.onBatch ?? (() => {});

  return async function ferryWebhookHandler(req, res) {
    if (!Buffer.isBuffer(req.body)) {
      /* a mounting mistake, not the sender's: say so where the developer looks */
      console.error('ferryWebhook: mount express.raw() before it; the raw body is needed');
      return answer(res, 500, { error: 'webhook receiver misconfigured' });
    }
    const check = verifyFerrySignature(req.body, req.get('Ferry-Signature'), secrets, {
      toleranceSeconds: options.toleranceSeconds,
    });
    if (!check.ok) return answer(res, check.status, { error: check.reason });

    let event;
    try {
      event = JSON.parse(req.body.toString('utf8'));
    } catch (e) {
      return answer(res, 400, { error: 'body is not JSON' });
    }
    const id = event && event.delivery_id;
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_DELIVERY_ID)
      return answer(res, 400, { error: 'no delivery_id in the body' });
    if (req.get('Ferry-Delivery') !== id)
      return answer(res, 400, { error: 'Ferry-Delivery header differs from the body' });

    if (!(await replayStore.claim(id))) return answer(res, 200, { ok: true, duplicate: true });
    try {
      if (event.type === 'run.finished') {
        await onRun(event.run, event);
      } else if (event.type === 'run.records') {
        const batch = { runId: event.run_id, seq: event.seq, last: event.last, deliveryId: id };
        await onBatch(event);
        for (const r of event.records || []) await onRecord(r.step, r.outcome, r.key, r.diff, batch);
      }
      /* other types: acknowledged and ignored, so a newer Ferry does not retry them */
    } catch (e) {
      await replayStore.release(id);
      console.error('ferryWebhook: handler failed for delivery %s: %s', id, e && e.message);
      return answer(res, 500, { error: 'handler failed' });
    }
    return answer(res, 200, { ok: true });
  };
}

module.exports = { ferryWebhook, verifyFerrySignature, parseSignatureHeader, MemoryReplayStore };
