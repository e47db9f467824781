// ferry-sync.js - <ferry-sync sync="NAME">: a Sync now button for any admin page, with live
// progress and a result message, talking to a Ferry server. One self-contained ES module (it
// is loaded cross-origin, so it imports nothing). See docs/embedding.md.
//
//   <script type="module" src="https://ferry.example.com/ferry-sync.js"></script>
//   <ferry-sync sync="therapists"></ferry-sync>
//
// Attributes: sync (required), base-url (default: where this script was loaded from),
// token (an API token, sent as Authorization: Bearer; without it the Ferry session cookie is
// used, with credentials: "include", and the CSRF token read from GET /api/me), label (the
// button's text, default "Sync now"), autodismiss (seconds after which a success message goes
// by itself; off by default; errors stay until dismissed), tenant (runs of that tenant only:
// the click's POST names it, other tenants' runs are ignored), variant="compact" (a small
// badge: the percent while running, a check or a cross when done; the message is read out
// but not shown).
//
// Events (bubbling, composed; detail: the run): ferry:started, ferry:progress, ferry:finished.
// Parts: container, button, spinner, label, progress, progress-bar, message, message-text,
// dismiss; for a sync with steps, steps (under the message) holding step-progress ("step 2 of
// 2: packages, 40%" while a step runs) and step-list, one step per step with its counts;
// progress-text ("Fetched 1,200 of 5,000" while a source's records are fetched); activity (a
// collapsible <details>, shown once the run has a log) holding activity-summary and
// activity-list, one activity-entry per entry (its time, then its text; data-kind), growing
// live from run.activity events.
//
// Review (docs/review.md): a preview button (part preview-button) starts a run that is held
// whatever it would do; a held run (a preview, or one the sync's guard stopped, also the one
// a Sync click is refused for) shows review: review-reason, review-counts, review-changes (the
// first few changes, each a review-change), review-comment, approve and reject (operators;
// approve needs an admin when the run changes a protected field), and review-note. After an
// approval the component follows the run to its end. The compact variant shows no review.

const SCRIPT_BASE = new URL('./', import.meta.url).href.replace(/\/$/, '');

const CSS = `
:host {
  display: inline-block;
  font-family: var(--ferry-font, system-ui, -apple-system, "Segoe UI", Roboto, sans-serif);
  font-size: var(--ferry-font-size, 14px);
  line-height: 1.45;
  color: var(--ferry-text, #18212b);
  max-width: 100%;
}
:host([hidden]) { display: none; }
* { box-sizing: border-box; }
.wrap { display: flex; flex-direction: column; gap: 8px; align-items: flex-start; max-width: 100%; }
button[part~="button"] {
  display: inline-flex; align-items: center; gap: 8px;
  min-height: 36px; padding: 6px 14px;
  font: inherit; font-weight: 600;
  color: var(--ferry-button-text, #fff);
  background: var(--ferry-primary, #1d4ed8);
  border: 1px solid var(--ferry-primary, #1d4ed8);
  border-radius: var(--ferry-radius, 8px);
  cursor: pointer;
}
button[part~="button"]:hover:not(:disabled) { filter: brightness(0.92); }
button[part~="button"]:disabled { cursor: not-allowed; opacity: 0.75; }
button:focus-visible { outline: 3px solid var(--ferry-focus, #2563eb); outline-offset: 2px; }
.spinner {
  display: none; width: 14px; height: 14px; flex: none;
  border: 2px solid currentColor; border-right-color: transparent; border-radius: 50%;
  animation: ferry-spin 0.8s linear infinite;
}
button[aria-busy="true"] .spinner { display: inline-block; }
@keyframes ferry-spin { to { transform: rotate(360deg); } }
@media (prefers-reduced-motion: reduce) { .spinner { animation-duration: 2.4s; } }
[part~="progress"] {
  width: var(--ferry-progress-width, 260px); max-width: 100%; height: 8px;
  background: var(--ferry-track, #e3e8ef); border-radius: 4px; overflow: hidden;
}
[part~="progress"][hidden] { display: none; }
[part~="progress-bar"] {
  display: block; height: 100%; width: 0;
  background: var(--ferry-primary, #1d4ed8); border-radius: 4px; transition: width 0.3s ease-out;
}
[part~="message"] {
  display: flex; align-items: flex-start; gap: 8px;
  max-width: var(--ferry-message-width, 520px);
  padding: 8px 10px 8px 12px; border-radius: var(--ferry-radius, 8px);
  border: 1px solid transparent; border-left-width: 4px;
  overflow-wrap: anywhere;
}
[part~="message"].empty { display: none; }
[part~="message"][data-state="running"] { background: #eff5ff; border-color: #93b4f5; border-left-color: #1d4ed8; color: #1e3a8a; }
[part~="message"][data-state="success"] { background: #effaf2; border-color: #86d19e; border-left-color: #15803d; color: #14532d; }
[part~="message"][data-state="failure"] { background: #fef1f1; border-color: #f0a1a1; border-left-color: #c62828; color: #7f1d1d; }
[part~="message-text"] { flex: 1; min-width: 0; }
button[part~="dismiss"] {
  flex: none; width: 26px; height: 26px; margin: -3px -4px 0 0;
  font: inherit; font-size: 18px; line-height: 1; color: inherit;
  background: transparent; border: 0; border-radius: 4px; cursor: pointer;
}
button[part~="dismiss"]:hover { background: rgb(0 0 0 / 8%); }
[part~="steps"] {
  max-width: var(--ferry-message-width, 520px); padding: 0 12px;
  font-size: 0.9em; overflow-wrap: anywhere; font-variant-numeric: tabular-nums;
}
[part~="steps"][hidden], [part~="step-progress"][hidden] { display: none; }
[part~="step-progress"] { margin: 0 0 2px; font-weight: 600; }
[part~="step-list"] { list-style: none; margin: 0; padding: 0; }
[part~="step"] .name { font-weight: 600; }
[part~="step"][data-status="pending"] { opacity: 0.7; }
[part~="progress-text"] { margin: 0; font-size: 0.9em; font-variant-numeric: tabular-nums; }
[part~="progress-text"][hidden], [part~="activity"][hidden] { display: none; }
[part~="activity"] { max-width: var(--ferry-message-width, 520px); font-size: 0.85em; }
[part~="activity"] summary { cursor: pointer; }
[part~="activity-list"] {
  list-style: none; margin: 4px 0 0; padding: 0 0 0 4px; max-height: 220px; overflow-y: auto;
  overflow-wrap: anywhere;
}
[part~="activity-entry"] time { opacity: 0.75; margin-right: 6px; font-variant-numeric: tabular-nums; }
[part~="actions"] { display: flex; gap: 8px; flex-wrap: wrap; align-items: center; }
button[part~="preview-button"], button[part~="approve"], button[part~="reject"] {
  min-height: 36px; padding: 6px 14px; font: inherit; font-weight: 600; cursor: pointer;
  color: var(--ferry-primary, #1d4ed8); background: transparent;
  border: 1px solid var(--ferry-primary, #1d4ed8); border-radius: var(--ferry-radius, 8px);
}
button[part~="approve"] { color: var(--ferry-button-text, #fff); background: var(--ferry-primary, #1d4ed8); }
button[part~="reject"] { color: #b91c1c; border-color: #e5a0a0; }
button[part~="preview-button"]:disabled, button[part~="approve"]:disabled, button[part~="reject"]:disabled {
  cursor: not-allowed; opacity: 0.6;
}
[part~="message"][data-state="held"] { background: #fff7e8; border-color: #f2c57c; border-left-color: #b45309; color: #78350f; }
[part~="review"] {
  display: flex; flex-direction: column; gap: 6px; max-width: var(--ferry-message-width, 520px);
  padding: 8px 12px; border: 1px solid #f2c57c; border-radius: var(--ferry-radius, 8px); overflow-wrap: anywhere;
}
[part~="review"][hidden], [part~="review-note"]:empty, [part~="preview-button"][hidden] { display: none; }
[part~="review-reason"] { margin: 0; font-weight: 600; }
[part~="review-counts"], [part~="review-note"] { margin: 0; font-size: 0.9em; }
[part~="review-changes"] { list-style: none; margin: 0; padding: 0; font-size: 0.9em; }
[part~="review-change"] .outcome { font-weight: 600; margin-right: 6px; }
[part~="review-change"] del { opacity: 0.75; }
[part~="review-comment"] { font: inherit; width: 100%; min-height: 2.6em; resize: vertical; }
:host([variant="compact"]) [part~="review"], :host([variant="compact"]) [part~="preview-button"] { display: none; }
:host([variant="compact"]) .wrap { flex-direction: row; align-items: center; gap: 4px; }
:host([variant="compact"]) button[part~="button"] {
  justify-content: center; min-width: 3.4em; min-height: 26px; padding: 2px 9px;
  border-radius: 999px; font-size: 0.85em; font-variant-numeric: tabular-nums; line-height: 1.2;
}
:host([variant="compact"]) button[part~="button"]:disabled { opacity: 0.9; }
:host([variant="compact"]) button[part~="button"][data-state="success"] { background: #15803d; border-color: #15803d; color: #fff; }
:host([variant="compact"]) button[part~="button"][data-state="failure"] { background: #c62828; border-color: #c62828; color: #fff; }
:host([variant="compact"]) .spinner,
:host([variant="compact"]) [part~="progress"],
:host([variant="compact"]) [part~="steps"],
:host([variant="compact"]) [part~="progress-text"],
:host([variant="compact"]) [part~="activity"] { display: none; }
:host([variant="compact"]) [part~="message"] {
  position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; border: 0;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap;
}
`;

let sheet = null; // one constructed stylesheet shared by every instance

function styleFor(root) {
  // A constructed stylesheet is not an inline style as far as a host page's CSP goes; a
  // <style> element is the fallback for browsers without adoptedStyleSheets.
  try {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    const style = document.createElement('style');
    style.textContent = CSS;
    root.appendChild(style);
  }
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

function isActive(run) {
  return !!run && (run.status === 'queued' || run.status === 'running');
}

/** A held run, once approved, is queued again under its id: the one way back to active. */
function isApproval(cur, run) {
  return cur.status === 'held' && run.decision === 'approved' && cur.decision !== 'approved';
}

const REVIEW_CHANGES = 5; // the changes a held run's review lists (the page lists them all)

/** "5 updated, 5 unchanged": a run's counts, zeros left out. */
function countsText(run) {
  const c = run.counts || {};
  const parts = ['created', 'updated', 'unchanged', 'skipped', 'failed', 'deleted']
    .filter(o => c[o]).map(o => `${fmtNumber(c[o])} ${o}`);
  return parts.length ? parts.join(', ') : 'no records';
}

/** "Rejected by ana: the export was cut. Nothing was applied." (also for an expired run). */
function decisionText(run) {
  const by = run.decided_by ? ` by ${run.decided_by}` : '';
  const why = run.decision_comment ? `: ${run.decision_comment}` : '';
  const what = run.decision === 'expired' ? 'Expired undecided' : 'Rejected';
  return `${what}${by}${why}. Nothing was applied.`;
}

function shown(v) {
  if (v === null || v === undefined) return '(empty)';
  return v === '' ? '""' : String(v);
}

function percentOf(step) {
  return Math.max(0, Math.min(100, Math.round(step.percent || 0)));
}

/** A step's line after its name, as the run's message counts it: "0 created, 0 updated, 10
 *  unchanged, 0 skipped, 0 failed" (labelled skips after skipped, deleted when some were), its
 *  status after the counts unless done ("(rolled back)"), or "pending" before it begins. */
function stepText(step) {
  const status = step.status || 'pending';
  if (status === 'pending') return 'pending';
  const c = step.counts || {};
  const parts = [];
  for (const o of ['created', 'updated', 'unchanged', 'skipped', 'failed']) {
    parts.push(`${c[o] || 0} ${o}`);
    if (o !== 'skipped') continue;
    for (const [label, n] of Object.entries(step.skipped_by_label || {})) parts.push(`${n || 0} ${label} skipped`);
  }
  if (c.deleted) parts.push(`${c.deleted} deleted`);
  return parts.join(', ') + (status === 'done' ? '' : ` (${status})`);
}

function fmtNumber(n) {
  return Number(n || 0).toLocaleString();
}

/** "Fetched 1,200 of 5,000" ("of about 5,000" for an estimate) while a source's records are
 *  fetched; "" otherwise. */
function fetchedText(run) {
  if (!isActive(run) || run.phase !== 'fetching' || !run.fetched) return '';
  const of = run.total === null || run.total === undefined ? ''
    : ` of ${run.total_estimated ? 'about ' : ''}${fmtNumber(run.total)}`;
  return `Fetched ${fmtNumber(run.fetched)}${of}`;
}

/** How many entries a loaded activity log stands for (a "dropped" entry counts those it
 *  left out), so a run.activity event already in it (by its n) is not added twice. */
function entriesIn(list) {
  let n = 0;
  for (const e of list) {
    const m = e.kind === 'dropped' ? /^(\d+)/.exec(e.text || '') : null;
    n += m ? Number(m[1]) : 1;
  }
  return n;
}

function sleep(ms, signal) {
  return new Promise(resolve => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
  });
}

class FerryError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body; // the whole answer (a 409's held run)
  }
}

export class FerrySync extends HTMLElement {
  static get observedAttributes() {
    return ['sync', 'base-url', 'token', 'label', 'variant', 'tenant'];
  }

  constructor() {
    super();
    const root = this.attachShadow({mode: 'open'});
    styleFor(root);
    this._label = el('span', {part: 'label'});
    this._button = el('button', {part: 'button', type: 'button', 'data-testid': 'sync-now'},
      el('span', {part: 'spinner', class: 'spinner', 'aria-hidden': 'true'}), this._label);
    this._fill = el('span', {part: 'progress-bar'});
    this._progress = el('div', {part: 'progress', role: 'progressbar', 'aria-valuemin': '0',
      'aria-valuemax': '100', 'aria-valuenow': '0', 'aria-label': 'Sync progress'}, this._fill);
    this._progress.hidden = true;
    this._text = el('span', {part: 'message-text'});
    this._dismiss = el('button', {part: 'dismiss', type: 'button', 'aria-label': 'Dismiss', title: 'Dismiss'}, '×');
    this._message = el('div', {part: 'message', role: 'status', class: 'empty'}, this._text, this._dismiss);
    // A sync with steps: the run's per-step lines, outside the status region so that counts
    // moving while it runs are not read out at every event.
    this._stepNow = el('p', {part: 'step-progress', 'data-testid': 'step-progress'});
    this._stepList = el('ol', {part: 'step-list', 'data-testid': 'steps', 'aria-label': 'Steps'});
    this._steps = el('div', {part: 'steps'}, this._stepNow, this._stepList);
    this._steps.hidden = true;
    // "Fetched 1,200 of 5,000" while fetching, outside the status region (it moves per page).
    this._detail = el('p', {part: 'progress-text', 'data-testid': 'progress-text'});
    this._detail.hidden = true;
    // The run's activity log (connected, pages, waits, retries, phases), collapsed at first.
    this._activityList = el('ol', {part: 'activity-list', 'data-testid': 'activity-list'});
    this._activity = el('details', {part: 'activity', 'data-testid': 'activity'},
      el('summary', {part: 'activity-summary'}, 'Activity'), this._activityList);
    this._activity.hidden = true;
    this._activityRun = 0; // the run whose log is shown
    this._activitySeen = 0; // its entries shown or counted: the last n known
    this._previewButton = el('button', {part: 'preview-button', type: 'button', 'data-testid': 'preview-sync',
      title: 'Show what would change; nothing is applied until it is approved'}, 'Preview');
    // A held run's review: why, its counts, its first changes, and the decision.
    this._reviewReason = el('p', {part: 'review-reason', 'data-testid': 'held-reason'});
    this._reviewCounts = el('p', {part: 'review-counts', 'data-testid': 'review-counts'});
    this._reviewChanges = el('ul', {part: 'review-changes', 'data-testid': 'review-changes',
      'aria-label': 'First changes'});
    this._comment = el('textarea', {part: 'review-comment', 'data-testid': 'review-comment', rows: '2',
      maxlength: '1000', 'aria-label': 'Comment', placeholder: 'Comment (kept with the decision)'});
    this._approve = el('button', {part: 'approve', type: 'button', 'data-testid': 'approve-run'}, 'Approve');
    this._reject = el('button', {part: 'reject', type: 'button', 'data-testid': 'reject-run'}, 'Reject');
    this._reviewNote = el('p', {part: 'review-note', 'data-testid': 'review-note', role: 'status'});
    this._review = el('div', {part: 'review', 'data-testid': 'review'}, this._reviewReason, this._reviewCounts,
      this._reviewChanges, this._comment, el('div', {part: 'actions'}, this._approve, this._reject),
      this._reviewNote);
    this._review.hidden = true;
    this._reviewRun = 0; // the held run the review shows
    this._role = '';
    root.append(el('div', {part: 'container', class: 'wrap'},
      el('div', {part: 'actions'}, this._button, this._previewButton), this._progress, this._detail,
      this._message, this._review, this._steps, this._activity));
    this._button.addEventListener('click', () => this.start());
    this._previewButton.addEventListener('click', () => this.start({preview: true}));
    this._approve.addEventListener('click', () => this.decide(true));
    this._reject.addEventListener('click', () => this.decide(false));
    this._dismiss.addEventListener('click', () => this._clearMessage(true));
    this._run = null; // the run shown (active, or the last one finished)
    this._started = new Set(); // run ids announced with ferry:started
    this._finished = new Set(); // ... and with ferry:finished
    this._pending = false;
    this._deciding = false; // an approve or reject is on its way
    this._canRun = true;
    this._abort = null;
    this._csrf = null;
    this._lastEventId = null;
    this._live = false; // an event stream is open
    this._opened = 0; // how many times one opened
    this._dismissTimer = null; // autodismiss of a success message
    this._roleTitle = ''; // why a viewer's button is disabled
    this._renderButton();
  }

  connectedCallback() {
    this._restart();
  }

  disconnectedCallback() {
    this._stop();
    clearTimeout(this._dismissTimer);
    this._dismissTimer = null;
  }

  attributeChangedCallback(name, oldValue, value) {
    if (oldValue === value) return;
    if (name === 'label' || name === 'variant') this._renderButton();
    else if (this.isConnected) this._restart();
  }

  /** The run shown: the active one, or the last one that finished here. */
  get run() {
    return this._run;
  }

  get _sync() {
    return (this.getAttribute('sync') || '').trim();
  }

  get _base() {
    const b = (this.getAttribute('base-url') || '').trim();
    return (b || SCRIPT_BASE).replace(/\/+$/, '');
  }

  get _token() {
    return (this.getAttribute('token') || '').trim();
  }

  /** tenant="clinic-a": the tenant whose runs this button starts and shows ('' for any). */
  get _tenant() {
    return (this.getAttribute('tenant') || '').trim();
  }

  get _compact() {
    return (this.getAttribute('variant') || '').trim().toLowerCase() === 'compact';
  }

  /** autodismiss="5": seconds a success message stays; 0 (the default, or not a number): until
   *  dismissed. */
  get _autodismissMs() {
    const v = Number((this.getAttribute('autodismiss') || '').trim());
    return Number.isFinite(v) && v > 0 ? Math.min(v, 86400) * 1000 : 0;
  }

  // ---- requests ----

  /** What a 401 means to the person: with a token, Ferry's own reason (an embed token that
   * expired says so); without one, that they need to log in. */
  _refusedText(reason, withoutToken) {
    if (!this._token) return withoutToken;
    return reason ? `Ferry refused the token: ${reason}` : 'Ferry refused the token.';
  }

  async _request(method, path, body = undefined, retried = false) {
    const headers = {Accept: 'application/json'};
    const init = {method, headers, cache: 'no-store', mode: 'cors'};
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (this._token) {
      headers.Authorization = `Bearer ${this._token}`;
      init.credentials = 'omit';
    } else {
      init.credentials = 'include';
      if (method !== 'GET' && this._csrf) headers['X-CSRF-Token'] = this._csrf;
    }
    let resp;
    try {
      resp = await fetch(this._base + path, init);
    } catch (e) {
      throw new FerryError(0, 'network', 'Ferry cannot be reached.');
    }
    let data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (resp.ok) return {status: resp.status, data};
    const err = data && data.error ? data.error : {};
    if (resp.status === 403 && err.code === 'csrf' && !this._token && !retried) {
      await this._whoami();
      return this._request(method, path, body, true);
    }
    throw new FerryError(resp.status, err.code || '', err.message || `Ferry answered ${resp.status}.`, data);
  }

  async _whoami() {
    const {data} = await this._request('GET', '/api/me');
    this._csrf = data.csrf_token || null;
    return data;
  }

  // ---- life cycle ----

  _stop() {
    if (this._abort) this._abort.abort();
    this._abort = null;
  }

  _restart() {
    this._stop();
    const sync = this._sync;
    this._run = null;
    this._lastEventId = null;
    this._csrf = null;
    this._canRun = true;
    this._roleTitle = '';
    this._button.removeAttribute('title');
    this._progress.hidden = true;
    this._clearMessage(false);
    this._renderButton();
    if (!sync) {
      this._say('failure', 'ferry-sync: the sync attribute is missing.');
      this._canRun = false;
      this._renderButton();
      return;
    }
    const abort = new AbortController();
    this._abort = abort;
    this._boot(abort.signal);
  }

  async _boot(signal) {
    // Who we are (the role; the CSRF token in cookie mode) and whether a run is active. A
    // network error or a 5xx is retried; a refusal (401, 403) or an unknown sync is final.
    for (let attempt = 0; !signal.aborted; attempt++) {
      try {
        const me = await this._whoami();
        if (signal.aborted) return;
        const role = me.user && me.user.role;
        this._role = role || '';
        this._canRun = role === 'operator' || role === 'admin';
        if (!this._canRun) {
          this._roleTitle = `Your Ferry user (${me.user ? me.user.name : '?'}) may not start syncs.`;
          this._button.title = this._roleTitle;
        }
        const {data} = await this._request('GET', '/api/syncs');
        if (signal.aborted) return;
        const s = (data.syncs || []).find(x => x.name === this._sync);
        if (!s) {
          this._canRun = false;
          this._renderButton();
          this._say('failure', `Ferry has no sync named "${this._sync}".`);
          return;
        }
        const tenant = this._tenant;
        const problem = tenant && !s.tenant ? `The sync "${this._sync}" has no tenants.`
          : !tenant && s.tenant ? `The sync "${this._sync}" runs per tenant: set the tenant attribute.`
          : tenant && Array.isArray(s.tenant.values) && !s.tenant.values.includes(tenant)
            ? `The sync "${this._sync}" has no tenant "${tenant}".` : '';
        if (problem) {
          this._canRun = false;
          this._renderButton();
          this._say('failure', problem);
          return;
        }
        if (this._message.getAttribute('data-state') === 'failure' && !this._run) this._clearMessage(false);
        this._renderButton();
        // With a tenant, the sync's active run may be another tenant's: that tenant's newest
        // run is its active one, if it has one (at most one per sync and tenant).
        let active = s.active_run, latest = s.latest_run;
        if (tenant) {
          const q = `sync=${encodeURIComponent(this._sync)}&tenant=${encodeURIComponent(tenant)}&limit=1`;
          const {data: runs} = await this._request('GET', `/api/runs?${q}`);
          if (signal.aborted) return;
          active = latest = runs && Array.isArray(runs.runs) ? runs.runs[0] : null;
        }
        if (isActive(active)) this._onRun('run.progress', active, false);
        else if (latest && latest.status === 'held') this._showHeld(latest); // waiting for a decision
        break;
      } catch (e) {
        if (signal.aborted) return;
        this._canRun = false;
        this._renderButton();
        if (e.status === 401 || e.status === 403) {
          this._say('failure', e.status === 401
            ? this._refusedText(e.message, 'Log in to Ferry to sync from here.')
            : e.message);
          return;
        }
        this._say('failure', `${e.message} Retrying...`);
        await sleep(Math.min(30000, 2000 * 2 ** Math.min(attempt, 4)), signal);
      }
    }
    this._stream(signal);
  }

  /** Starts a run (what a click does; preview: one held for review whatever it would do).
   *  Resolves to the run, or null when refused; while a run of the sync is held, that run
   *  (shown for review). */
  async start({preview = false} = {}) {
    if (this._pending || isActive(this._run) || !this._canRun) return null;
    this._pending = true;
    this._renderButton();
    this._say('running', preview ? 'Preview started...' : 'Sync started...');
    try {
      if (!this._token && !this._csrf) await this._whoami();
      const tenant = this._tenant;
      const live = this._live, opened = this._opened;
      const asked = {...(tenant ? {tenant} : {}), ...(preview ? {preview: true} : {})};
      const {status, data} = await this._request('POST', `/api/syncs/${encodeURIComponent(this._sync)}/runs`,
        Object.keys(asked).length ? asked : undefined);
      const run = {...data};
      delete run.message;
      this._pending = false;
      // The answer may come after the stream's run.finished (a run of a few rows): _onRun
      // then keeps the finished run, and the button must still leave "Syncing...".
      this._onRun(status === 200 ? 'run.progress' : 'run.queued', run, false);
      this._renderButton();
      if (status === 200 && isActive(this._run) && this._run.id === run.id) {
        this._say('running', data.message || 'Sync already in progress...');
        this._renderSteps(this._run);
      }
      // A stream that was not open all along may have missed the run's events (it ended
      // before the stream connected): read the run.
      if ((!live || this._opened !== opened) && isActive(this._run) && this._run.id === run.id) this._resync();
      return run;
    } catch (e) {
      this._pending = false;
      if (e.code === 'held' && e.body && e.body.run && e.body.run.id) {
        this._showHeld(e.body.run); // decide it first
        this._renderButton();
        return e.body.run;
      }
      this._say('failure', e.message);
      this._renderButton();
      return null;
    }
  }

  /** Approves (approve true) or rejects the held run shown, with the comment typed. Resolves
   *  to the run as answered (an approval: queued again, followed to its end), or null. */
  async decide(approve) {
    const run = this._run;
    if (!run || run.status !== 'held' || this._deciding) return null;
    this._deciding = true;
    this._renderReview(run);
    this._reviewNote.textContent = approve ? 'Approving...' : 'Rejecting...';
    try {
      if (!this._token && !this._csrf) await this._whoami();
      const comment = this._comment.value.trim();
      const {data} = await this._request('POST', `/api/runs/${run.id}/${approve ? 'approve' : 'reject'}`,
        comment ? {comment} : {});
      const got = {...data};
      delete got.message;
      this._deciding = false;
      this._reviewNote.textContent = '';
      this._onRun(isActive(got) ? 'run.queued' : 'run.finished', got, true);
      if (isActive(this._run) && this._run.id === got.id && (!this._live)) this._resync();
      return got;
    } catch (e) {
      this._deciding = false;
      this._renderReview(run);
      this._reviewNote.textContent = e.message;
      return null;
    }
  }

  /** Shows a held run (not one this element followed: no events are sent for it). */
  _showHeld(run) {
    this._run = run;
    this._finished.add(run.id);
    this._started.add(run.id);
    this._progress.hidden = true;
    this._say('held', run.ui_message || 'Held for review.');
    this._renderSteps(run);
    this._renderButton();
  }

  /** The review of a held run: its reason and counts, its first changes (read once per run),
   *  and the decision's buttons; hidden for any other run. */
  _renderReview(run) {
    const held = !!run && run.status === 'held';
    this._review.hidden = !held;
    if (!held) {
      this._reviewRun = 0;
      return;
    }
    this._reviewReason.textContent = `Held for review: ${run.held_reason || ''}`;
    this._reviewCounts.textContent = `Would change: ${countsText(run)}.`;
    const mayDecide = this._canRun && !this._deciding;
    this._approve.disabled = !mayDecide || (run.held_admin && this._role !== 'admin');
    this._reject.disabled = !mayDecide;
    this._comment.disabled = !this._canRun;
    if (!this._deciding) {
      this._reviewNote.textContent = !this._canRun ? 'Only an operator or an admin may decide.'
        : run.held_admin && this._role !== 'admin' ? 'It changes a protected field: only an admin may approve it.'
          : '';
    }
    if (this._reviewRun === run.id) return;
    this._reviewRun = run.id;
    this._comment.value = '';
    this._reviewChanges.replaceChildren();
    this._loadChanges(run.id);
  }

  async _loadChanges(id) {
    let list;
    try {
      const {data} = await this._request('GET', `/api/runs/${id}/changes?limit=${REVIEW_CHANGES + 1}`);
      list = data && Array.isArray(data.changes) ? data.changes : [];
    } catch (e) {
      return; // the reason and the counts stand without them
    }
    if (this._reviewRun !== id) return;
    const items = list.slice(0, REVIEW_CHANGES).map(c => {
      const li = el('li', {part: 'review-change', 'data-testid': 'review-change', 'data-outcome': c.outcome || ''},
        el('span', {class: 'outcome'}, c.outcome || ''), c.label || c.key || '');
      for (const [f, pair] of Object.entries(c.diff && typeof c.diff === 'object' ? c.diff : {})) {
        const [a, b] = Array.isArray(pair) ? pair : [null, pair];
        li.append(' · ', `${f}: `, el('del', {}, shown(a)), ' \u2192 ', el('ins', {}, shown(b)));
      }
      if (c.reason) li.append(` (${c.reason})`);
      return li;
    });
    if (list.length > REVIEW_CHANGES) items.push(el('li', {part: 'review-change'}, '...'));
    this._reviewChanges.replaceChildren(...items);
  }

  // ---- the event stream (fetch, so that a token can go in the Authorization header) ----

  async _stream(signal) {
    const url = `${this._base}/api/events?sync=${encodeURIComponent(this._sync)}`;
    let retry = 2000;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const headers = {Accept: 'text/event-stream'};
        const init = {headers, signal, cache: 'no-store', mode: 'cors'};
        if (this._token) {
          headers.Authorization = `Bearer ${this._token}`;
          init.credentials = 'omit';
        } else {
          init.credentials = 'include';
        }
        if (this._lastEventId) headers['Last-Event-ID'] = this._lastEventId;
        const resp = await fetch(url, init);
        if (resp.status === 401 || resp.status === 403) {
          let reason = '';
          try {
            const data = await resp.json();
            reason = data && data.error && data.error.message ? data.error.message : '';
          } catch (e) {
            reason = '';
          }
          this._canRun = false;
          this._renderButton();
          this._say('failure', resp.status === 401
            ? this._refusedText(reason, 'Your Ferry session has ended. Log in to Ferry again.')
            : 'Ferry refused the live updates.');
          return;
        }
        if (!resp.ok || !resp.body) throw new Error(`events: ${resp.status}`);
        failures = 0;
        // A new stream carries only what happens from now on (after a reconnect, what the
        // server still holds after Last-Event-ID): the run shown may have ended unseen.
        this._live = true;
        this._opened++;
        this._resync();
        retry = await this._read(resp.body, signal, retry);
      } catch (e) {
        if (signal.aborted) return;
      } finally {
        this._live = false;
      }
      failures++;
      await sleep(Math.min(30000, retry * 2 ** Math.min(Math.max(failures - 1, 0), 4)), signal);
    }
  }

  /** Reads one stream until it ends; returns the retry delay the server asked for. */
  async _read(body, signal, retry) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    let event = '', data = [], id = null;
    try {
      for (;;) {
        const {value, done} = await reader.read();
        if (done || signal.aborted) break;
        buf += decoder.decode(value, {stream: true});
        let m;
        while ((m = /\r\n|\r|\n/.exec(buf)) !== null) {
          // A lone \r at the end may be the first half of \r\n: wait for more.
          if (m[0] === '\r' && m.index === buf.length - 1) break;
          const line = buf.slice(0, m.index);
          buf = buf.slice(m.index + m[0].length);
          if (line === '') {
            if (id !== null) this._lastEventId = id;
            if (data.length) this._dispatchSse(event || 'message', data.join('\n'));
            event = '';
            data = [];
            id = null;
            continue;
          }
          if (line.startsWith(':')) continue; // heartbeat
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          let v = colon < 0 ? '' : line.slice(colon + 1);
          if (v.startsWith(' ')) v = v.slice(1);
          if (field === 'event') event = v;
          else if (field === 'data') data.push(v);
          else if (field === 'id' && !v.includes('\0')) id = v;
          else if (field === 'retry' && /^\d+$/.test(v)) retry = Number(v);
        }
      }
    } finally {
      reader.cancel().catch(() => {}); // already closed or errored
    }
    return retry;
  }

  _dispatchSse(type, data) {
    if (!type.startsWith('run.')) return;
    let run;
    try {
      run = JSON.parse(data);
    } catch (e) {
      return;
    }
    if (run.sync !== this._sync) return;
    if (this._tenant && run.tenant !== this._tenant) return; // another tenant's run
    if (type === 'run.activity') {
      this._addActivity(run); // one entry of a run's log, not a run
      return;
    }
    this._onRun(type, run, true);
  }

  /** Shows the log of the run shown: its stored (or so far) entries. */
  _resetActivity(run) {
    const list = Array.isArray(run.activity) ? run.activity : [];
    this._activityRun = run.id;
    this._activitySeen = entriesIn(list);
    this._activityList.replaceChildren(...list.map(e => this._activityItem(e)));
    this._activity.hidden = list.length === 0;
  }

  /** A run.activity event: added to the log shown when it is that run's and new. */
  _addActivity(entry) {
    if (!this._run || entry.id !== this._run.id) return;
    if (this._activityRun !== entry.id) this._resetActivity({id: entry.id});
    if (entry.n <= this._activitySeen) return;
    this._activitySeen = entry.n;
    this._activityList.append(this._activityItem(entry));
    this._activity.hidden = false;
  }

  _activityItem(e) {
    const d = new Date(e.at);
    const at = Number.isNaN(d.getTime()) ? (e.at || '') : d.toLocaleTimeString();
    return el('li', {part: 'activity-entry', 'data-kind': e.kind || ''},
      el('time', {datetime: e.at || ''}, at), e.text || '');
  }

  /** After the stream (re)connects, or a click's answer while it is down: the run shown may
   *  have finished meanwhile. */
  async _resync() {
    let run = this._run;
    try {
      if (!isActive(run)) {
        // A run that started between the boot's look and this stream's opening sent its
        // events to nobody here: look again for the sync's (and tenant's) newest run.
        const q = `sync=${encodeURIComponent(this._sync)}` +
          (this._tenant ? `&tenant=${encodeURIComponent(this._tenant)}` : '') + '&limit=1';
        const {data: list} = await this._request('GET', `/api/runs?${q}`);
        const newest = list && Array.isArray(list.runs) ? list.runs[0] : null;
        if (!isActive(newest) || (run && newest.id <= run.id)) return;
        run = newest;
      }
      const {data} = await this._request('GET', `/api/runs/${run.id}`);
      this._onRun(isActive(data) ? 'run.progress' : 'run.finished', data, false);
    } catch (e) {
      // the stream's own events will tell
    }
  }

  // ---- state and rendering ----

  _onRun(type, run, live) {
    const cur = this._run;
    if (cur && cur.id === run.id) {
      // Never go back: a late answer must not undo a finished run or newer progress.
      if (!isActive(cur) && isActive(run) && !isApproval(cur, run)) return;
      // A decision on the held run shown (approved: queued again; rejected): its end is
      // announced again.
      if (cur.status === 'held' && run.decision && run.decision !== cur.decision) this._finished.delete(run.id);
      // While a remote source is fetched nothing is processed yet: percent (which never moves
      // backwards) tells a late answer from the API from the newer progress event.
      if (isActive(cur) && isActive(run) &&
          ((run.processed || 0) < (cur.processed || 0) || (run.percent || 0) < (cur.percent || 0))) return;
    } else if (cur && isActive(cur) && run.id < cur.id) {
      return; // an older run's event
    }
    if (type === 'run.finished' && !isActive(run)) {
      if (this._finished.has(run.id)) return;
      if (!this._started.has(run.id) && !live) return; // nothing we followed
    }
    this._run = run;
    // A run's JSON from the API or its run.finished has its whole log; progress events none.
    if (Array.isArray(run.activity) || this._activityRun !== run.id) this._resetActivity(run);
    const fetched = fetchedText(run);
    if (this._detail.textContent !== fetched) this._detail.textContent = fetched;
    this._detail.hidden = !fetched;
    if (!this._started.has(run.id)) {
      this._started.add(run.id);
      this._emit('ferry:started', run);
    }
    if (isActive(run)) {
      const pct = Math.max(0, Math.min(100, Math.round(run.percent || 0)));
      this._progress.hidden = false;
      this._progress.setAttribute('aria-valuenow', String(pct));
      this._progress.setAttribute('aria-valuetext', `${pct}%, ${run.phase || run.status}`);
      this._fill.style.width = `${pct}%`;
      this._say('running', run.status === 'queued' ? 'Sync started...' : `Syncing... ${pct}%`);
      if (type === 'run.progress' || type === 'run.started') this._emit('ferry:progress', run);
    } else {
      this._progress.hidden = true;
      this._progress.setAttribute('aria-valuenow', '100');
      this._finished.add(run.id);
      const ok = run.status === 'succeeded';
      this._say(ok ? 'success' : run.status === 'held' ? 'held' : 'failure',
        run.status === 'rejected' ? decisionText(run)
          : run.ui_message || run.error || (ok ? 'Sync finished.' : `Sync ${run.status}.`));
      this._emit('ferry:finished', run);
    }
    this._renderSteps(run);
    this._renderButton();
  }

  /** The run's per-step lines ("brands: 0 created, 0 updated, 10 unchanged, 0 skipped, 0
   *  failed") and, while a step executes, "step 2 of 2: packages, 40%"; hidden for a run
   *  without steps or when run is null. */
  _renderSteps(run) {
    const steps = run && Array.isArray(run.steps) && run.steps.length ? run.steps : null;
    this._steps.hidden = !steps;
    const i = steps && isActive(run) ? steps.findIndex(st => st.status === 'running') : -1;
    const now = i < 0 ? '' : `step ${i + 1} of ${steps.length}: ${steps[i].name}, ${percentOf(steps[i])}%`;
    if (this._stepNow.textContent !== now) this._stepNow.textContent = now;
    this._stepNow.hidden = !now;
    this._stepList.replaceChildren(...(steps || []).map(st => el('li',
      {part: 'step', 'data-testid': 'step', 'data-step': st.name, 'data-status': st.status || 'pending'},
      el('span', {class: 'name'}, st.name), `: ${stepText(st)}`)));
  }

  _emit(type, run) {
    this.dispatchEvent(new CustomEvent(type, {detail: run, bubbles: true, composed: true}));
  }

  _renderButton() {
    const busy = this._pending || isActive(this._run);
    const text = busy ? 'Syncing...' : (this.getAttribute('label') || 'Sync now');
    if (this._label.textContent !== text) this._label.textContent = text;
    this._button.disabled = busy || !this._canRun;
    // Another run waits until the held one is decided.
    this._previewButton.disabled = busy || !this._canRun || (!!this._run && this._run.status === 'held');
    this._renderReview(this._run);
    if (busy) this._button.setAttribute('aria-busy', 'true');
    else this._button.removeAttribute('aria-busy');
    this._renderBadge();
  }

  /** variant="compact": the button is the badge. Its text is the percent while a run is on
   *  its way, a check or a cross for the message shown after it, a sync sign otherwise; its
   *  aria-label and title say it in words ("Syncing... 45%", "Sync now. Processed 3 people:
   *  ..."). The message, visually hidden, stays the status region. */
  _renderBadge() {
    if (!this._button) return;
    if (!this._compact) {
      if (this._button.hasAttribute('data-state')) {
        this._button.removeAttribute('data-state');
        this._button.removeAttribute('aria-label');
        if (this._roleTitle) this._button.title = this._roleTitle;
        else this._button.removeAttribute('title');
      }
      return;
    }
    const label = this.getAttribute('label') || 'Sync now';
    const said = this._message.classList.contains('empty') ? '' : this._text.textContent;
    const shown = this._message.getAttribute('data-state');
    let state, glyph, name;
    if (this._pending || isActive(this._run)) {
      const pct = isActive(this._run) ? Math.max(0, Math.min(100, Math.round(this._run.percent || 0))) : 0;
      state = 'running';
      glyph = `${pct}%`;
      name = `Syncing... ${pct}%`;
    } else if (shown === 'success' || shown === 'failure' || shown === 'held') {
      state = shown === 'held' ? 'failure' : shown; // a held run asks for attention
      glyph = shown === 'success' ? '\u2713' : '\u2715';
      name = said ? `${label}. ${said}` : label;
    } else {
      state = 'idle';
      glyph = '\u21bb';
      name = label;
    }
    this._button.setAttribute('data-state', state);
    if (this._label.textContent !== glyph) this._label.textContent = glyph;
    this._button.setAttribute('aria-label', name);
    this._button.title = [name, this._roleTitle].filter(Boolean).join(' ');
  }

  _say(state, text) {
    this._renderSteps(null); // _onRun shows a run's steps again after its message
    this._armDismiss(state);
    this._message.classList.remove('empty');
    this._message.setAttribute('data-state', state);
    // While running only the percent changes: keep the status region from chattering.
    if (state === 'running' && /^Syncing\.\.\. \d+%$/.test(text) &&
        /^Syncing\.\.\. \d+%$/.test(this._text.textContent)) {
      this._message.setAttribute('aria-live', 'off');
    } else {
      this._message.removeAttribute('aria-live');
    }
    if (this._text.textContent !== text) this._text.textContent = text;
    this._renderBadge();
  }

  /** With autodismiss, a success message goes after its seconds (later while the pointer is
   *  on it, or on the compact badge, or focus is in it, so it never vanishes under the user);
   *  other states stay. */
  _armDismiss(state) {
    clearTimeout(this._dismissTimer);
    this._dismissTimer = null;
    const ms = this._autodismissMs;
    if (state !== 'success' || !ms) return;
    const fire = () => {
      const root = this.shadowRoot;
      const held = this._compact ? this._button : this._message; // what the user reads
      if (held.matches(':hover') || this._message.contains(root.activeElement)) {
        this._dismissTimer = setTimeout(fire, 1000);
        return;
      }
      this._dismissTimer = null;
      this._clearMessage(false);
    };
    this._dismissTimer = setTimeout(fire, ms);
  }

  _clearMessage(byUser) {
    clearTimeout(this._dismissTimer);
    this._dismissTimer = null;
    this._renderSteps(null);
    this._activity.hidden = true;
    this._message.classList.add('empty');
    this._message.removeAttribute('data-state');
    this._text.textContent = '';
    this._renderBadge();
    if (byUser && this._button && !this._button.disabled) this._button.focus();
  }
}

if (!customElements.get('ferry-sync')) customElements.define('ferry-sync', FerrySync);
