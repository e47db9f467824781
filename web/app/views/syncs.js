// views/syncs.js - #/syncs: one card per sync with its schedule, last result, Sync now and the
// live progress of its active run, and Preview (a run held for review whatever it would do).
// A sync whose latest run is held says so, with the reason and a link to review it. A sync with tenants has, instead of one last result and
// one progress, a row per tenant (tenantRow) with that tenant's own, so one organisation's
// failure is not shown while another syncs.
import {h, replace, setText, setAttr} from '../dom.js';
import {api} from '../api.js';
import {isActive, isHeld, runState, statusLabel, timeEl, zonedTimeEl, fmtDuration, fmtWho, fmtNumber} from '../format.js';
import {progressView} from '../progress.js';
import {stepsList} from '../steps.js';
import {startSync, cancelRun, tenantInfo} from '../actions.js';

export function mountSyncs(root, app) {
  const grid = h('div', {class: 'cards', 'data-testid': 'sync-cards'});
  const count = h('p', {class: 'page-sub'});
  replace(root,
    h('div', {class: 'page-head'},
      h('h1', {tabindex: '-1'}, 'Syncs'), count),
    grid);
  const cards = new Map(); // name -> card

  function renderAll() {
    const syncs = app.state.syncs;
    setText(count, syncs.length === 1 ? '1 sync' : `${syncs.length} syncs`);
    for (const [name, card] of cards) {
      if (!app.state.byName.has(name)) {
        card.el.remove();
        cards.delete(name);
      }
    }
    let prev = null;
    for (const sync of syncs) {
      let card = cards.get(sync.name);
      if (!card) {
        card = createCard(app, sync);
        cards.set(sync.name, card);
      }
      if (prev ? prev.nextSibling !== card.el : grid.firstChild !== card.el) {
        if (prev) prev.after(card.el); else grid.prepend(card.el);
      }
      card.update(sync);
      prev = card.el;
    }
    if (syncs.length) grid.querySelector('.empty')?.remove();
    else if (!grid.querySelector('.empty')) {
      grid.append(h('p', {class: 'empty'},
        'No syncs are configured yet. Add one under syncs: in ferry.yaml and restart Ferry.'));
    }
  }

  // A sync with tenants: its recent runs, filed per tenant (state.setTenantRuns). Again after
  // each fresh list of syncs (after a run ended, a reconnect): a tenant's run may have ended
  // unseen.
  async function loadTenantRuns() {
    for (const sync of app.state.syncs) {
      if (!tenantInfo(sync)) continue;
      try {
        const data = await api.get(`/api/runs?sync=${encodeURIComponent(sync.name)}&limit=100`);
        app.state.setTenantRuns(sync.name, data.runs || []);
      } catch (e) {
        // the rows keep what they have; a 401 is handled by api.js
      }
    }
  }
  const onSyncs = () => {
    renderAll();
    loadTenantRuns();
  };

  const onSync = ev => {
    const card = cards.get(ev.detail.name);
    const sync = app.state.byName.get(ev.detail.name);
    if (card && sync) card.update(sync);
  };
  app.state.addEventListener('sync', onSync);
  app.state.addEventListener('syncs', onSyncs);
  onSyncs();
  return {
    unmount() {
      app.state.removeEventListener('sync', onSync);
      app.state.removeEventListener('syncs', onSyncs);
    },
  };
}

/** Keeps the progress view in slot in step with run: made (label, options as progressView's)
 *  while run is active, removed when run is null. Returns the view, or null. */
function keepProgress(slot, view, run, label, options) {
  if (!run) {
    if (view) view.el.remove();
    return null;
  }
  if (!view) {
    view = progressView(label, options);
    slot.append(view.el);
  }
  view.update(run);
  return view;
}

function createCard(app, sync) {
  const canOperate = app.state.canOperate;
  const title = h('h2', {class: 'card-title'});
  const kind = h('span', {class: 'tag'});
  const schedule = h('p', {class: 'card-schedule', 'data-testid': 'schedule'});
  const stepNames = h('p', {class: 'card-steps', 'data-testid': 'sync-steps'});
  const last = h('div', {class: 'last', 'data-testid': 'last-result'});
  const message = h('p', {class: 'card-msg', 'data-testid': 'card-message', role: 'status'});
  const progressSlot = h('div', {class: 'progress-slot'});
  const tenantList = h('ul', {class: 'tenant-cards', 'data-testid': 'tenant-cards', 'aria-label': 'Tenants'});
  const tenantRows = new Map(); // tenant -> row
  const actions = h('div', {class: 'card-actions'});
  const historyLink = h('a', {class: 'btn btn--ghost', href: `#/history?sync=${encodeURIComponent(sync.name)}`},
    'History');
  let progress = null;
  let pending = false; // a POST is on its way
  let cancelling = null; // the run id being cancelled
  let current = sync;

  let syncBtn = null, cancelBtn = null, fullBtn = null, previewBtn = null, tenantInput = null, tenantWrap = null;
  if (canOperate) {
    syncBtn = h('button', {type: 'button', class: 'btn btn--primary', 'data-testid': 'sync-now'});
    syncBtn.addEventListener('click', () => onSyncNow(false));
    // A preview is held for review whatever it would do: nothing is written until approved.
    previewBtn = h('button', {type: 'button', class: 'btn btn--ghost', 'data-testid': 'preview-sync',
      title: 'Read the source and show what would change; nothing is applied until it is approved'},
    'Preview');
    previewBtn.addEventListener('click', () => onSyncNow(false, true));
    // An incremental sync fetches only what changed; this fetches everything once.
    fullBtn = h('button', {type: 'button', class: 'btn btn--ghost', 'data-testid': 'full-sync',
      title: 'Fetch every record, not only those changed since the last run', hidden: true},
    'Full sync');
    fullBtn.addEventListener('click', () => onSyncNow(true));
    cancelBtn = h('button', {type: 'button', class: 'btn btn--danger-ghost', 'data-testid': 'cancel'},
      'Cancel');
    cancelBtn.addEventListener('click', onCancel);
  }
  actions.append(...[syncBtn, previewBtn, fullBtn, historyLink].filter(Boolean));

  const el = h('article', {class: 'card sync-card', 'data-testid': 'sync-card', 'data-sync': sync.name},
    h('header', {class: 'card-head'}, title, kind),
    schedule, stepNames, last, tenantList, progressSlot, actions, message);

  function say(text, kindOf = 'info') {
    setText(message, text || '');
    message.className = `card-msg card-msg--${kindOf}`;
    message.setAttribute('role', kindOf === 'error' ? 'alert' : 'status');
  }

  /** The sync's held run, answered by a 409 to Sync now or Preview: shown as what to do next
   *  (review it), not as an error. */
  function sayHeld(run) {
    replace(message, h('span', null, 'A run is held for review: ', run.held_reason || 'see the run', '. '),
      h('a', {href: `#/runs/${run.id}`, 'data-testid': 'held-link'}, `Review run #${run.id}`));
    message.className = 'card-msg card-msg--held';
    message.setAttribute('role', 'status');
  }

  async function onSyncNow(full, preview = false) {
    if (pending || isActive(current.active_run)) return;
    const tenant = tenantInput ? tenantInput.value.trim() : '';
    const info = tenantInfo(current);
    if (info && tenantInput && !tenant) {
      say('Enter a tenant first.', 'error');
      tenantInput.focus();
      return;
    }
    pending = true;
    say('');
    update(current);
    const r = await startSync(app, current.name, tenant, {full, preview});
    pending = false;
    if (r.held) {
      sayHeld(r.held);
    } else if (r.error) {
      say(r.error.message, 'error');
    } else if (r.already) {
      say(r.message ? (tenant ? `${tenant}: ${r.message}` : r.message) : 'Sync already in progress...');
    } else {
      say('');
    }
    update(app.state.byName.get(current.name) || current);
  }

  async function onCancel() {
    const run = current.active_run;
    if (!run) return;
    cancelling = run.id;
    cancelBtn.disabled = true;
    cancelBtn.setAttribute('aria-busy', 'true');
    say('Cancelling...');
    const r = await cancelRun(app, run.id);
    const now = app.state.byName.get(current.name) || current;
    const stillActive = now.active_run && now.active_run.id === run.id;
    if (r.error) {
      cancelling = null;
      say(r.error.message, 'error');
    } else if (stillActive) {
      say(r.message); // "Cancelling...": the run.finished event clears it
    }
    update(now);
  }

  function renderLast(run) {
    if (!run) {
      replace(last, h('p', {class: 'last-none'}, 'Never run'));
      last.className = 'last last--none';
      return;
    }
    const state = runState(run);
    last.className = `last last--${state}`;
    const meta = [
      timeEl(run.finished_at || run.queued_at), ' · by ', fmtWho(run),
    ];
    if (run.duration_ms !== null && run.duration_ms !== undefined) {
      meta.push(' · took ', fmtDuration(run.duration_ms));
    }
    if (run.tenant) meta.push(' · tenant ', run.tenant);
    replace(last,
      h('p', {class: 'last-head'},
        h('span', {class: `pill pill--${run.status}`}, statusLabel(run.status)),
        h('span', {class: 'last-label'}, 'Last run')),
      h('p', {class: 'last-message'}, run.ui_message || run.error || statusLabel(run.status)),
      isHeld(run) ? h('p', {class: 'last-held', 'data-testid': 'held-note'},
        h('strong', null, 'Held for review: '), run.held_reason || '', ' ',
        h('a', {href: `#/runs/${run.id}`, 'data-testid': 'held-link'}, 'Review the changes')) : null,
      stepsList(run, 'Steps of the last run'),
      h('p', {class: 'last-meta'}, ...meta, ' · ',
        h('a', {href: `#/runs/${run.id}`}, `Run #${run.id}`)));
  }

  function renderSchedule(s) {
    if (!s.schedule) {
      replace(schedule, h('span', {class: 'sched-icon', 'aria-hidden': 'true'}), 'Manual');
      return;
    }
    const parts = [h('span', {class: 'sched-icon', 'aria-hidden': 'true'}), s.schedule];
    // A cron schedule's next run in the schedule's zone ("02:00 (Asia/Jakarta)"); an
    // 'every' schedule's is elapsed time, shown as "in 5 min".
    if (s.next_run_at && /^cron\s/i.test(s.schedule)) {
      parts.push(' · next run ', zonedTimeEl(s.next_run_at, s.timezone || 'UTC'));
    } else if (s.next_run_at) {
      parts.push(' · next run ', timeEl(s.next_run_at));
    }
    replace(schedule, ...parts);
  }

  function renderTenant(s) {
    const info = canOperate ? tenantInfo(s) : null;
    if (!info) {
      if (tenantWrap) {
        tenantWrap.remove();
        tenantWrap = tenantInput = null;
      }
      return;
    }
    if (!tenantWrap) {
      const id = `tenant-${s.name}`;
      const listId = `tenants-${s.name}`;
      tenantInput = h('input', {id, name: 'tenant', 'data-testid': 'tenant', type: 'text',
        autocomplete: 'off', class: 'input input--small', list: listId, required: true});
      tenantInput.addEventListener('keydown', e => {
        if (e.key === 'Enter') onSyncNow();
      });
      const list = h('datalist', {id: listId}, ...info.options.map(o => h('option', {value: o})));
      tenantWrap = h('span', {class: 'tenant-field'}, h('label', {for: id}, 'Tenant'), tenantInput, list);
      actions.prepend(tenantWrap);
    }
  }

  /** "Steps: brands → packages" for a sync with steps (GET /api/syncs lists them). */
  function renderStepNames(s) {
    const names = Array.isArray(s.steps) ? s.steps.map(st => st.name) : [];
    stepNames.hidden = !names.length;
    setText(stepNames, names.length ? `Steps: ${names.join(' → ')}` : '');
  }

  /** The rows of a sync with tenants: the tenants of `tenant.values`, in that order, then the
   *  others seen in recent runs, newest first (at most 20 of those). */
  function renderTenantRows(s) {
    const info = tenantInfo(s);
    tenantList.hidden = !info;
    if (!info) {
      tenantList.replaceChildren();
      tenantRows.clear();
      return;
    }
    const known = s.tenant_runs || new Map();
    const newest = t => {
      const r = known.get(t);
      return r ? Math.max(r.active ? r.active.id : 0, r.latest ? r.latest.id : 0) : 0;
    };
    const listed = Array.isArray(s.tenant && s.tenant.values) ? s.tenant.values.map(String) : [];
    const others = [...known.keys()].filter(t => !listed.includes(t)).sort((a, b) => newest(b) - newest(a));
    const tenants = [...listed, ...others.slice(0, 20)];
    for (const [t, row] of tenantRows) {
      if (!tenants.includes(t)) {
        row.el.remove();
        tenantRows.delete(t);
      }
    }
    let prev = null;
    for (const t of tenants) {
      let row = tenantRows.get(t);
      if (!row) {
        row = tenantRow(app, s, t);
        tenantRows.set(t, row);
      }
      if (prev ? prev.nextSibling !== row.el : tenantList.firstChild !== row.el) {
        if (prev) prev.after(row.el); else tenantList.prepend(row.el);
      }
      const r = known.get(t);
      row.update(s, r && r.active ? app.state.latest(r.active) : null, r ? r.latest : null);
      prev = row.el;
    }
  }

  function update(s) {
    current = s;
    setText(title, s.title || s.name);
    setText(kind, s.source_kind || '');
    renderSchedule(s);
    renderStepNames(s);
    renderTenant(s);
    renderTenantRows(s);
    // With tenants the rows show each tenant's result and progress; the card shows neither.
    const perTenant = !!tenantInfo(s);
    last.hidden = perTenant;
    if (!perTenant) renderLast(s.latest_run);
    const run = !perTenant && s.active_run && isActive(s.active_run) ? s.active_run : null;
    el.classList.toggle('is-active', !!run);
    progress = keepProgress(progressSlot, progress, run, `${s.title || s.name} sync progress`, {steps: true});
    if (syncBtn) {
      const busy = pending || !!run;
      if (busy) {
        if (!syncBtn.querySelector('[data-testid="spinner"]')) {
          replace(syncBtn, h('span', {class: 'spinner', 'data-testid': 'spinner', 'aria-hidden': 'true'}),
            'Syncing...');
        }
      } else if (syncBtn.textContent !== 'Sync now' || syncBtn.querySelector('.spinner')) {
        replace(syncBtn, h('span', {class: 'icon-sync', 'aria-hidden': 'true'}), 'Sync now');
      }
      syncBtn.disabled = busy;
      setAttr(syncBtn, 'aria-busy', busy ? 'true' : null);
    }
    if (fullBtn) {
      fullBtn.hidden = !s.incremental;
      fullBtn.disabled = pending || !!run;
    }
    if (previewBtn) previewBtn.disabled = pending || !!run;
    // Once the held run is decided, the card's pointer to it goes.
    if (!perTenant && message.classList.contains('card-msg--held') && !isHeld(s.latest_run)) say('');
    if (cancelBtn) {
      if (run) {
        if (!cancelBtn.isConnected) syncBtn.after(cancelBtn);
        const c = cancelling === run.id;
        cancelBtn.disabled = c;
        setAttr(cancelBtn, 'aria-busy', c ? 'true' : null);
      } else {
        if (cancelBtn.isConnected) {
          const hadFocus = document.activeElement === cancelBtn;
          cancelBtn.remove();
          if (hadFocus && syncBtn) syncBtn.focus();
        }
        if (cancelling !== null) {
          cancelling = null;
          if (message.textContent === 'Cancelling...' || message.textContent === 'Cancelled.') say('');
        }
      }
    }
  }

  return {el, update};
}

/** One tenant's row in the card of a sync with tenants: its name, its latest finished run (a
 *  pill, the message, a link), its active run's progress, and for operators its own Sync now
 *  and Cancel. */
function tenantRow(app, sync, tenant) {
  const canOperate = app.state.canOperate;
  const name = h('span', {class: 'tenant-name'}, tenant);
  // The rows the sync's table holds for this tenant (the sync list's tenant_rows).
  const rowsEl = h('span', {class: 'tenant-rows muted', 'data-testid': 'tenant-rows'});
  const pill = h('span', {class: 'pill'});
  const lastMsg = h('span', {class: 'tenant-last-message'});
  const lastLink = h('a', {class: 'tenant-last-link'});
  const lastEl = h('p', {class: 'tenant-last', 'data-testid': 'tenant-last'}, pill, ' ', lastMsg, ' ', lastLink);
  const msg = h('p', {class: 'card-msg', 'data-testid': 'tenant-message', role: 'status'});
  const slot = h('div', {class: 'progress-slot'});
  const buttons = h('div', {class: 'tenant-actions'});
  let syncBtn = null, cancelBtn = null, fullBtn = null;
  let progress = null;
  let pending = false;
  let cancelling = null;
  let active = null;
  let syncName = sync.name;
  let incremental = !!sync.incremental;
  if (canOperate) {
    syncBtn = h('button', {type: 'button', class: 'btn btn--primary btn--small', 'data-testid': 'tenant-sync-now',
      'aria-label': `Sync now for ${tenant}`});
    cancelBtn = h('button', {type: 'button', class: 'btn btn--danger-ghost btn--small', 'data-testid': 'tenant-cancel',
      'aria-label': `Cancel the run for ${tenant}`}, 'Cancel');
    fullBtn = h('button', {type: 'button', class: 'btn btn--ghost btn--small', 'data-testid': 'tenant-full-sync',
      'aria-label': `Full sync for ${tenant}`, hidden: true}, 'Full sync');
    syncBtn.addEventListener('click', () => onSyncNow(false));
    fullBtn.addEventListener('click', () => onSyncNow(true));
    cancelBtn.addEventListener('click', onCancel);
    buttons.append(syncBtn, fullBtn);
  }
  const el = h('li', {class: 'tenant-card', 'data-testid': 'tenant-card', 'data-tenant': tenant},
    h('div', {class: 'tenant-head'}, name, rowsEl, buttons), lastEl, slot, msg);

  function say(text, kind = 'info') {
    setText(msg, text || '');
    msg.className = `card-msg card-msg--${kind}`;
    msg.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  }

  async function onSyncNow(full) {
    if (pending || active) return;
    pending = true;
    say('');
    render();
    const r = await startSync(app, syncName, tenant, {full});
    pending = false;
    if (r.held) say(`A run is held for review: ${r.held.held_reason || ''} (run #${r.held.id}).`);
    else if (r.error) say(r.error.message, 'error');
    else if (r.already) say(r.message || 'Sync already in progress...');
    render();
  }

  async function onCancel() {
    if (!active) return;
    cancelling = active.id;
    say('Cancelling...');
    render();
    const r = await cancelRun(app, cancelling);
    if (r.error) {
      cancelling = null;
      say(r.error.message, 'error');
    }
    render();
  }

  let latest = null;
  function render() {
    if (latest) {
      const state = runState(latest);
      el.setAttribute('data-state', state);
      pill.className = `pill pill--${latest.status}`;
      setText(pill, statusLabel(latest.status));
      setText(lastMsg, latest.ui_message || latest.error || statusLabel(latest.status));
      setText(lastLink, `Run #${latest.id}`);
      lastLink.setAttribute('href', `#/runs/${latest.id}`);
      lastEl.className = `tenant-last tenant-last--${state}`;
    } else {
      el.removeAttribute('data-state');
      pill.className = 'pill';
      setText(pill, '');
      setText(lastMsg, 'Never run');
      setText(lastLink, '');
      lastLink.removeAttribute('href');
      lastEl.className = 'tenant-last tenant-last--none';
    }
    el.classList.toggle('is-active', !!active);
    progress = keepProgress(slot, progress, active, `${sync.title || sync.name} · ${tenant} sync progress`);
    if (syncBtn) {
      const busy = pending || !!active;
      const text = busy ? 'Syncing...' : 'Sync now';
      if (syncBtn.textContent !== text) {
        replace(syncBtn, busy ? h('span', {class: 'spinner', 'aria-hidden': 'true'}) : null, text);
      }
      syncBtn.disabled = busy;
      setAttr(syncBtn, 'aria-busy', busy ? 'true' : null);
      setAttr(syncBtn, 'aria-label', busy ? `Syncing ${tenant}...` : `Sync now for ${tenant}`);
      fullBtn.hidden = !incremental;
      fullBtn.disabled = busy;
      if (active) {
        if (!cancelBtn.isConnected) syncBtn.after(cancelBtn);
        cancelBtn.disabled = cancelling === active.id;
      } else {
        if (cancelBtn.isConnected) {
          const hadFocus = document.activeElement === cancelBtn;
          cancelBtn.remove();
          if (hadFocus) syncBtn.focus();
        }
        if (cancelling !== null) {
          cancelling = null;
          if (msg.textContent === 'Cancelling...') say('');
        }
      }
    }
  }

  return {
    el,
    update(s, activeRun, latestRun) {
      syncName = s.name;
      incremental = !!s.incremental;
      const rows = s.tenant_rows ? s.tenant_rows[tenant] : undefined;
      setText(rowsEl, rows === undefined || rows === null ? (s.tenant_rows ? 'no rows yet' : '')
        : `${fmtNumber(rows)} row${rows === 1 ? '' : 's'}`);
      active = activeRun && isActive(activeRun) ? activeRun : null;
      latest = latestRun;
      if (!active && msg.textContent === 'Sync already in progress...') say('');
      render();
    },
  };
}
