// format.js - how the page writes times, durations, numbers and run states.
import {h} from './dom.js';

const dateTime = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'medium'});
const timeOnly = new Intl.DateTimeFormat(undefined, {timeStyle: 'short'});
const clock = new Intl.DateTimeFormat(undefined, {timeStyle: 'medium'});
const dateShort = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'held', 'rejected', 'cancelled',
  'interrupted'];
export const OUTCOMES = ['created', 'updated', 'unchanged', 'skipped', 'failed', 'deleted'];
/** Outcomes a run's changes are recorded under (unchanged records are only counted). */
export const CHANGE_OUTCOMES = ['created', 'updated', 'skipped', 'failed', 'deleted'];

export function isActive(run) {
  return !!run && (run.status === 'queued' || run.status === 'running');
}

/** A run the guard (or a preview) stopped before it applied anything: it waits for a person's
 *  approve or reject (docs/review.md). */
export function isHeld(run) {
  return !!run && run.status === 'held';
}

/** running (blue), success (green), held (amber: it waits for a person's decision, so it
 *  stays like a failure) or failure (red): the notification and message colours. */
export function runState(run) {
  if (isActive(run)) return 'running';
  if (isHeld(run)) return 'held';
  return run.status === 'succeeded' ? 'success' : 'failure';
}

export function statusLabel(status) {
  return status ? status.charAt(0).toUpperCase() + status.slice(1) : '';
}

export function capitalize(s) {
  return s ? s.charAt(0).toUpperCase() + s.slice(1) : s;
}

export function fmtNumber(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString();
}

/** A size in bytes: "812 bytes", "14.2 kB", "2.4 MB" (powers of 1,000, as file managers say). */
export function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1000) return `${n} byte${n === 1 ? '' : 's'}`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000, i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Records fetched while a source is read: "Fetched 1,200 of 5,000", "Fetched 1,200 of about
 *  5,000" (an estimate), "Fetched 1,200". */
export function fetchedLine(run) {
  const of = run.total !== null && run.total !== undefined
    ? ` of ${run.total_estimated ? 'about ' : ''}${fmtNumber(run.total)}` : '';
  return `Fetched ${fmtNumber(run.fetched || 0)}${of}`;
}

/** What a run read of its source: "2.4 MB, 12,345 records"; null before anything was read. */
export function sourceLine(run) {
  if (!run || !run.source_bytes) return null;
  const records = run.source_records === null || run.source_records === undefined ? null
    : `${fmtNumber(run.source_records)} record${run.source_records === 1 ? '' : 's'}`;
  return [fmtBytes(run.source_bytes), records].filter(Boolean).join(', ');
}

/** 850 ms, 1.2 s, 42 s, 3 min 4 s, 2 h 5 min. */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 10) return `${(Math.floor(s * 10) / 10).toFixed(1)} s`;
  if (s < 60) return `${Math.floor(s)} s`;
  const total = Math.floor(s);
  if (total < 3600) {
    const m = Math.floor(total / 60), r = total % 60;
    return r ? `${m} min ${r} s` : `${m} min`;
  }
  const hrs = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60);
  return m ? `${hrs} h ${m} min` : `${hrs} h`;
}

export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateTime.format(d);
}

/** The time of day with seconds ("14:03:27"), for entries of one run's activity log. */
export function fmtClock(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : clock.format(d);
}

export function fmtTimeShort(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const now = new Date();
  return d.toDateString() === now.toDateString() ? timeOnly.format(d) : dateShort.format(d);
}

/** "just now", "5 s ago", "3 min ago", "in 12 min", then the date. */
export function fmtRelative(iso, now = Date.now()) {
  if (!iso) return '–';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return iso;
  const diff = Math.round((t - now) / 1000);
  const a = Math.abs(diff);
  let text;
  if (a < 5) return 'just now';
  if (a < 60) text = `${a} s`;
  else if (a < 3600) text = `${Math.floor(a / 60)} min`;
  else if (a < 86400) text = `${Math.floor(a / 3600)} h`;
  else if (a < 7 * 86400) text = `${Math.floor(a / 86400)} d`;
  else return fmtTimeShort(iso);
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** A <time> showing relative time, refreshed by refreshTimes(); the title gives the local time. */
export function timeEl(iso, mode = 'relative') {
  if (!iso) return h('span', null, '–');
  const el = h('time', {datetime: iso, title: fmtTime(iso)});
  if (mode === 'relative') {
    el.dataset.rel = '';
    el.textContent = fmtRelative(iso);
  } else if (mode === 'short') {
    el.textContent = fmtTimeShort(iso);
  } else {
    el.textContent = fmtTime(iso);
  }
  return el;
}

/** A <time> for iso as the clock reads in the IANA zone ("02:00 (Asia/Jakarta)"), with the
 * weekday and date when it is not within the next day; the viewer's own time in its title. */
export function zonedTimeEl(iso, zone) {
  const d = new Date(iso);
  const opts = {timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23'};
  if (Math.abs(d.getTime() - Date.now()) > 20 * 3600 * 1000) {
    Object.assign(opts, {weekday: 'short', day: 'numeric', month: 'short'});
  }
  let text;
  try {
    text = `${new Intl.DateTimeFormat(undefined, opts).format(d)} (${zone})`;
  } catch {
    text = fmtTime(iso); // a zone this browser does not know
  }
  return h('time', {datetime: iso, title: fmtTime(iso), 'data-testid': 'next-run'}, text);
}

export function refreshTimes(root = document) {
  const now = Date.now();
  for (const el of root.querySelectorAll('time[data-rel]')) {
    const t = fmtRelative(el.getAttribute('datetime'), now);
    if (el.textContent !== t) el.textContent = t;
  }
}

/** "3 s", "about 2 min" for an ETA in seconds. */
export function fmtEta(seconds) {
  if (seconds === null || seconds === undefined) return null;
  if (seconds < 1) return 'less than a second';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  return fmtDuration(seconds * 1000);
}

/** A run's labelled skips, [[label, count], ...] in the config's order (skipped_by_label). */
export function labelledSkips(run) {
  return Object.entries((run && run.skipped_by_label) || {});
}

/** Every record a run skipped: the plain count (counts.skipped leaves labelled skips out)
 * and each label's. */
export function skippedTotal(run) {
  const plain = (run && run.counts && run.counts.skipped) || 0;
  return labelledSkips(run).reduce((n, [, c]) => n + (c || 0), plain);
}

/** "8 created, 5 updated, 2 skipped, 3 FLAT skipped, 2 failed" (zeros left out), or "no
 * records". labels: the run's skipped_by_label, each written after the plain skipped. */
export function fmtCounts(counts, {zeros = false, labels = null} = {}) {
  if (!counts) return '';
  const parts = [];
  for (const o of OUTCOMES) {
    const n = counts[o] || 0;
    if (n || zeros) parts.push(`${fmtNumber(n)} ${o}`);
    if (o !== 'skipped') continue;
    for (const [label, c] of Object.entries(labels || {})) {
      if (c || zeros) parts.push(`${fmtNumber(c)} ${label} skipped`);
    }
  }
  return parts.length ? parts.join(', ') : 'no records';
}

/** Who started a run: "ana", "ana (token ci-bot)", "scheduler". */
export function fmtWho(run) {
  if (!run || !run.user) return '–';
  return run.token ? `${run.user} (token ${run.token})` : run.user;
}

/** One line about a live run: "45% · applying · 68,000 of 150,000 · 2,210 rows/s · about 3 s left". */
export function progressLine(run) {
  const parts = [`${run.percent ?? 0}%`, run.phase || run.status];
  if (run.tenant) parts.splice(1, 0, `tenant ${run.tenant}`);
  const about = run.total_estimated ? '~' : ''; // the last run's count, not a stated total
  if (run.phase === 'fetching' && run.fetched) {
    parts.push(fetchedLine(run));
  } else if (run.total !== null && run.total !== undefined && run.phase === 'fetching') {
    parts.push(`${about}${fmtNumber(run.total)} records in all`);
  } else if (run.total !== null && run.total !== undefined) {
    parts.push(`${fmtNumber(run.processed)} of ${about}${fmtNumber(run.total)} rows`);
  } else {
    parts.push(`${fmtNumber(run.processed || 0)} rows`);
  }
  return parts.join(' · ');
}

export function rateLine(run) {
  const parts = [];
  const c = run.counts;
  if (c && (OUTCOMES.some(o => c[o]) || skippedTotal(run))) {
    parts.push(fmtCounts(c, {labels: run.skipped_by_label}));
  }
  if (run.rows_per_second) parts.push(`${fmtNumber(run.rows_per_second)} rows/s`);
  const eta = fmtEta(run.eta_seconds);
  if (eta && isActive(run) && run.status === 'running') parts.push(`${eta} left`);
  return parts.join(' · ');
}

/** Date (YYYY-MM-DD, the browser's local day) to a date-time with the local offset. */
export function localDayStart(date) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return isoWithOffset(d);
}

/** The start of the local day after date: the exclusive end of a "to" date. */
export function localDayEnd(date) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date || '');
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1);
  return isoWithOffset(d);
}

function pad(n) {
  return String(n).padStart(2, '0');
}

function isoWithOffset(d) {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}` +
    `${sign}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}
