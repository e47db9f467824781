// notifications.js - one notification per run: blue while it runs, green when it succeeded,
// red when it failed, was cancelled or interrupted. They stay until dismissed; with the
// autodismiss preference (prefs.js) a green one goes by itself after its seconds, as if
// dismissed (not while the pointer is on it or focus is in it). Red ones always stay.
//
// localStorage "ferry.notifications.USER" = {"notified": [run ids], "dismissed": [run ids]}:
// after a refresh the page shows again the active runs and the finished runs it notified
// about that were not dismissed.
import {h, setText, setAttr} from './dom.js';
import {isActive, runState, fmtDuration, fmtWho} from './format.js';

const KEEP_NOTIFIED = 50;
const KEEP_DISMISSED = 500;

export class Notifications {
  /** container: the aria-live element; state: State; fetchRun(id) -> run (or throws). */
  constructor(container, state, fetchRun) {
    this.container = container;
    this.state = state;
    this.fetchRun = fetchRun;
    this.key = `ferry.notifications.${state.me.name}`;
    this.items = new Map(); // run id -> {el, parts}
    this.list = h('ul', {class: 'notes', role: 'list'});
    this.clearAll = h('button', {
      type: 'button', class: 'btn btn--ghost btn--small notes-clear', 'data-testid': 'dismiss-all',
      onclick: () => this.dismissAll(),
    }, 'Dismiss all');
    container.replaceChildren(this.list, this.clearAll);
    this.saved = this.load();
    this.autodismiss = 0; // seconds a success stays; 0: until dismissed
    this.updateClearAll();
  }

  /** Sets the seconds a success notification stays (0: until dismissed), for those shown too. */
  setAutodismiss(seconds) {
    this.autodismiss = seconds > 0 ? seconds : 0;
    for (const [id, item] of this.items) this.armDismiss(id, item);
  }

  /** Starts (or stops) the timer that dismisses item once it shows a success. */
  armDismiss(id, item) {
    clearTimeout(item.timer);
    item.timer = null;
    if (!this.autodismiss || item.el.getAttribute('data-state') !== 'success') return;
    const fire = () => {
      if (!this.items.has(id)) return;
      if (item.el.matches(':hover') || item.el.contains(document.activeElement)) {
        item.timer = setTimeout(fire, 1000);
        return;
      }
      this.dismiss(id);
    };
    item.timer = setTimeout(fire, this.autodismiss * 1000);
  }

  load() {
    try {
      const v = JSON.parse(localStorage.getItem(this.key) || '{}');
      return {
        notified: Array.isArray(v.notified) ? v.notified.filter(Number.isInteger) : [],
        dismissed: Array.isArray(v.dismissed) ? v.dismissed.filter(Number.isInteger) : [],
      };
    } catch (e) {
      return {notified: [], dismissed: []};
    }
  }

  save() {
    this.saved.notified = this.saved.notified.slice(-KEEP_NOTIFIED);
    this.saved.dismissed = this.saved.dismissed.slice(-KEEP_DISMISSED);
    try {
      localStorage.setItem(this.key, JSON.stringify(this.saved));
    } catch (e) {
      // storage full or disabled: notifications still work for this page's life
    }
  }

  isDismissed(id) {
    return this.saved.dismissed.includes(id);
  }

  /** After login or a refresh: active runs and the undismissed runs notified before. */
  async restore(activeRuns) {
    const active = activeRuns.filter(r => !this.isDismissed(r.id));
    const ids = this.saved.notified.filter(id => !this.isDismissed(id) && !active.some(r => r.id === id));
    const fetched = await Promise.allSettled(ids.map(id => this.fetchRun(id)));
    const runs = [...active];
    fetched.forEach((r, i) => {
      if (r.status === 'fulfilled') {
        this.state.accept(r.value);
        runs.push(this.state.latest(r.value));
      } else if (r.reason && r.reason.status === 404) {
        this.saved.notified = this.saved.notified.filter(x => x !== ids[i]);
      }
    });
    this.save();
    for (const run of runs) this.show(this.state.latest(run));
  }

  /** Shows or updates the notification of run (unless the user dismissed it). */
  show(run) {
    if (!run || this.isDismissed(run.id)) return;
    let item = this.items.get(run.id);
    if (!item) {
      item = this.create(run);
      this.items.set(run.id, item);
      // Newest first, whatever order they arrive in.
      const after = [...this.list.children].find(li => Number(li.dataset.run) < run.id);
      this.list.insertBefore(item.el, after || null);
      if (!this.saved.notified.includes(run.id)) {
        this.saved.notified.push(run.id);
        this.save();
      }
      this.updateClearAll();
    }
    const was = item.el.getAttribute('data-state');
    this.update(item, run);
    if (item.el.getAttribute('data-state') !== was) this.armDismiss(run.id, item);
  }

  create(run) {
    const title = h('strong', {class: 'note-title'});
    const message = h('p', {class: 'note-message', 'data-testid': 'notification-message'});
    const bar = h('span', {class: 'note-bar-fill'});
    const barWrap = h('span', {class: 'note-bar', 'aria-hidden': 'true'}, bar);
    const meta = h('span', {class: 'note-meta'});
    const link = h('a', {href: `#/runs/${run.id}`, class: 'note-link'}, 'View run');
    const icon = h('span', {class: 'note-icon', 'aria-hidden': 'true'});
    const dismiss = h('button', {
      type: 'button', class: 'note-dismiss', 'data-testid': 'dismiss', 'aria-label': 'Dismiss',
      title: 'Dismiss', onclick: () => this.dismiss(run.id),
    }, '×');
    const el = h('li', {class: 'note', 'data-testid': 'notification', 'data-run': run.id},
      icon,
      h('div', {class: 'note-body'}, title, message, barWrap,
        h('p', {class: 'note-foot'}, meta, link)),
      dismiss);
    return {el, parts: {title, message, bar, barWrap, meta, dismiss}};
  }

  update(item, run) {
    const {el, parts} = item;
    const state = runState(run);
    setAttr(el, 'data-state', state);
    el.className = `note note--${state}`;
    setText(parts.title, this.state.titleOf(run.sync) + (run.tenant ? ` · ${run.tenant}` : ''));
    if (state === 'running') {
      const pct = run.percent || 0;
      // The percent changes often: hidden from screen readers so the region stays calm.
      if (!parts.pct) {
        parts.message.replaceChildren('Syncing... ');
        parts.pct = h('span', {'aria-hidden': 'true'});
        parts.message.append(parts.pct);
      }
      setText(parts.pct, run.status === 'queued' ? `${pct}% (queued)` : `${pct}%`);
      parts.barWrap.hidden = false;
      parts.bar.style.width = `${pct}%`;
      setText(parts.meta, `Run #${run.id} · started by ${fmtWho(run)} · `);
    } else {
      parts.pct = null;
      const text = run.ui_message || run.error ||
        (run.status === 'succeeded' ? 'Sync finished.' : `Sync ${run.status}.`);
      setText(parts.message, text);
      parts.barWrap.hidden = true;
      const took = run.duration_ms !== null && run.duration_ms !== undefined
        ? ` · took ${fmtDuration(run.duration_ms)}` : '';
      const by = run.cancelled_by ? ` · cancelled by ${run.cancelled_by}` : '';
      setText(parts.meta, `Run #${run.id} · ${run.status}${took}${by} · `);
    }
    parts.dismiss.setAttribute('aria-label', 'Dismiss');
  }

  dismiss(id) {
    const item = this.items.get(id);
    if (item) {
      clearTimeout(item.timer);
      // Keep keyboard focus in the region: move it to the next notification's button.
      const next = item.el.nextElementSibling || item.el.previousElementSibling;
      const hadFocus = item.el.contains(document.activeElement);
      item.el.remove();
      this.items.delete(id);
      if (hadFocus) {
        const btn = next && next.querySelector('[data-testid="dismiss"]');
        if (btn) btn.focus();
        else document.getElementById('main')?.focus();
      }
    }
    if (!this.saved.dismissed.includes(id)) this.saved.dismissed.push(id);
    this.saved.notified = this.saved.notified.filter(x => x !== id);
    this.save();
    this.updateClearAll();
  }

  dismissAll() {
    for (const id of [...this.items.keys()]) this.dismiss(id);
  }

  updateClearAll() {
    this.clearAll.hidden = this.items.size < 2;
    this.container.classList.toggle('is-empty', this.items.size === 0);
  }

  /** Handles a run event: every run seen queued, running or finished gets a notification
   *  (unless dismissed), whoever started it. */
  onRun(run) {
    this.show(run);
  }
}
