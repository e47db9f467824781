// views/history.js - #/history: every run, newest first, with filters (kept in the hash),
// 25 rows a page through the API's cursor, and CSV/JSON export of the same selection.
import {h, replace, setText, errorBox} from '../dom.js';
import {api, query} from '../api.js';
import {STATUSES, isActive, statusLabel, fmtTimeShort, fmtTime, fmtDuration, fmtWho,
  fmtCounts, localDayStart, localDayEnd} from '../format.js';
import {stepsList} from '../steps.js';

const PAGE = 25;
const FILTERS = ['sync', 'status', 'user', 'tenant', 'from', 'to'];
const pagesByFilter = new Map(); // filter key -> cursor stack, so "back" from a run keeps the page

function readFilters(params) {
  const f = {};
  for (const k of FILTERS) f[k] = (params.get(k) || '').trim();
  return f;
}

/** The API's filters for the form's: dates are the browser's local days. */
export function apiFilters(f) {
  return {
    sync: f.sync, status: f.status, user: f.user, tenant: f.tenant,
    since: f.from ? localDayStart(f.from) : '',
    until: f.to ? localDayEnd(f.to) : '',
  };
}

export function exportHref(format, f) {
  const q = query(apiFilters(f)).slice(1);
  return `api/runs/export?format=${format}${q ? '&' + q : ''}`; // relative: under base_path too
}

export function mountHistory(root, app, params) {
  let filters = readFilters(params);
  let stack = [null]; // cursors of the pages up to the one shown (null: the first page)
  let nextCursor = null;
  let rows = new Map(); // run id -> tr
  let loading = 0;
  let reloadTimer = null;

  // ---- filters form ----
  const syncSel = h('select', {name: 'sync', id: 'f-sync', class: 'input'},
    h('option', {value: ''}, 'All'),
    ...app.state.syncs.map(s => h('option', {value: s.name}, s.title || s.name)));
  const statusSel = h('select', {name: 'status', id: 'f-status', class: 'input'},
    h('option', {value: ''}, 'All'),
    ...STATUSES.map(st => h('option', {value: st}, statusLabel(st))));
  const userIn = h('input', {name: 'user', id: 'f-user', class: 'input', type: 'text',
    autocomplete: 'off', placeholder: 'anyone', spellcheck: 'false'});
  const tenantIn = h('input', {name: 'tenant', id: 'f-tenant', class: 'input', type: 'text',
    autocomplete: 'off', placeholder: 'any', spellcheck: 'false'});
  const fromIn = h('input', {name: 'from', id: 'f-from', class: 'input', type: 'date'});
  const toIn = h('input', {name: 'to', id: 'f-to', class: 'input', type: 'date'});
  const field = (label, input) => h('div', {class: 'field'}, h('label', {for: input.id}, label), input);
  const resetBtn = h('button', {type: 'button', class: 'btn btn--ghost', onclick: onReset}, 'Reset');
  const form = h('form', {class: 'filters', 'data-testid': 'history-filters', novalidate: true},
    field('Sync', syncSel), field('Status', statusSel), field('Started by', userIn),
    field('Tenant', tenantIn), field('From', fromIn), field('To', toIn),
    h('div', {class: 'field field--buttons'},
      h('button', {type: 'submit', class: 'btn btn--primary'}, 'Apply'), resetBtn));
  form.addEventListener('submit', onSubmit);

  // ---- table, pager, export ----
  const tbody = h('tbody');
  const status = h('p', {class: 'table-status', role: 'status'});
  const table = h('table', {class: 'table', 'data-testid': 'history-table'},
    h('caption', {class: 'sr-only'}, 'Sync runs, newest first'),
    h('thead', null, h('tr', null,
      ...['ID', 'Sync', 'Status', 'Started', 'Duration', 'By', 'Counts', 'Message']
        .map(c => h('th', {scope: 'col'}, c)))),
    tbody);
  const prevBtn = h('button', {type: 'button', class: 'btn', 'data-testid': 'prev-page', onclick: onPrev},
    '← Newer');
  const nextBtn = h('button', {type: 'button', class: 'btn', 'data-testid': 'next-page', onclick: onNext},
    'Older →');
  const pageLabel = h('span', {class: 'pager-label'});
  const csv = h('a', {class: 'btn btn--ghost', 'data-testid': 'export-csv', download: ''}, 'Export CSV');
  const json = h('a', {class: 'btn btn--ghost', 'data-testid': 'export-json', download: ''}, 'Export JSON');
  const errorSlot = h('div');

  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'History'),
      h('p', {class: 'page-sub'}, 'Every run, who started it and what it did.')),
    form,
    h('div', {class: 'toolbar'},
      h('div', {class: 'exports'}, csv, json),
      h('nav', {class: 'pager', 'aria-label': 'Pages'}, prevBtn, pageLabel, nextBtn)),
    errorSlot,
    h('div', {class: 'table-wrap'}, table),
    status);

  function fillForm() {
    syncSel.value = filters.sync;
    if (filters.sync && syncSel.value !== filters.sync) {
      syncSel.append(h('option', {value: filters.sync}, filters.sync));
      syncSel.value = filters.sync;
    }
    statusSel.value = STATUSES.includes(filters.status) ? filters.status : '';
    userIn.value = filters.user;
    tenantIn.value = filters.tenant;
    fromIn.value = filters.from;
    toIn.value = filters.to;
    csv.href = exportHref('csv', filters);
    json.href = exportHref('json', filters);
  }

  function filterKey() {
    return JSON.stringify(filters);
  }

  function formFilters() {
    return {
      sync: syncSel.value, status: statusSel.value, user: userIn.value.trim(),
      tenant: tenantIn.value.trim(), from: fromIn.value, to: toIn.value,
    };
  }

  function onSubmit(e) {
    e.preventDefault();
    const f = formFilters();
    if (f.from && f.to && f.from > f.to) {
      replace(errorSlot, errorBox('"From" is after "To"', 'Check the dates'));
      return;
    }
    const q = new URLSearchParams();
    for (const k of FILTERS) if (f[k]) q.set(k, f[k]);
    const hash = `#/history${q.toString() ? '?' + q : ''}`;
    pagesByFilter.delete(JSON.stringify(f)); // Apply starts at the first page
    if (location.hash === hash) {
      filters = f;
      stack = [null];
      load();
    } else {
      location.hash = hash; // the router calls update()
    }
  }

  function onReset() {
    pagesByFilter.delete(JSON.stringify(readFilters(new URLSearchParams())));
    if (location.hash === '#/history') {
      filters = readFilters(new URLSearchParams());
      stack = [null];
      fillForm();
      load();
    } else {
      location.hash = '#/history';
    }
  }

  function onPrev() {
    if (stack.length > 1) {
      stack.pop();
      load();
    }
  }

  function onNext() {
    if (nextCursor) {
      stack.push(nextCursor);
      load();
    }
  }

  async function load() {
    const my = ++loading;
    clearTimeout(reloadTimer);
    pagesByFilter.set(filterKey(), stack.slice());
    fillForm();
    table.setAttribute('aria-busy', 'true');
    prevBtn.disabled = true;
    nextBtn.disabled = true;
    setText(status, 'Loading...');
    try {
      const data = await api.get('/api/runs', {
        ...apiFilters(filters), limit: PAGE, cursor: stack[stack.length - 1] || '',
      });
      if (my !== loading) return;
      replace(errorSlot);
      nextCursor = data.next_cursor || null;
      rows = new Map();
      const trs = data.runs.map(run => {
        const tr = row(app.state.latest(run));
        rows.set(run.id, tr);
        return tr;
      });
      if (!trs.length) {
        trs.push(h('tr', {class: 'empty-row'},
          h('td', {colspan: '8'}, stack.length > 1 ? 'No more runs.' : 'No runs match these filters.')));
      }
      replace(tbody, ...trs);
      const n = data.runs.length;
      const first = (stack.length - 1) * PAGE;
      setText(pageLabel, `Page ${stack.length}`);
      setText(status, n ? `Showing runs ${first + 1}–${first + n}${nextCursor ? '' : ' (the last page)'}.` : '');
    } catch (e) {
      if (my !== loading) return;
      replace(errorSlot, errorBox(e, 'Could not load the history'));
      setText(status, '');
      nextCursor = null;
    } finally {
      if (my === loading) {
        table.removeAttribute('aria-busy');
        prevBtn.disabled = stack.length <= 1;
        nextBtn.disabled = !nextCursor;
      }
    }
  }

  function row(run) {
    const open = () => {
      location.hash = `#/runs/${run.id}`;
    };
    const statusText = isActive(run) && run.status === 'running'
      ? `Running ${run.percent || 0}%` : statusLabel(run.status);
    const when = run.started_at || run.queued_at;
    const tr = h('tr', {'data-testid': 'history-row', 'data-run': run.id, class: 'row-link'},
      h('td', {'data-label': 'ID'}, h('a', {href: `#/runs/${run.id}`, class: 'run-id'}, `#${run.id}`)),
      h('td', {'data-label': 'Sync'}, app.state.titleOf(run.sync),
        run.tenant ? h('span', {class: 'muted'}, ` · ${run.tenant}`) : null),
      h('td', {'data-label': 'Status'}, h('span', {class: `pill pill--${run.status}`}, statusText)),
      h('td', {'data-label': 'Started'}, when
        ? h('time', {datetime: when, title: fmtTime(when)}, fmtTimeShort(when)) : '–'),
      h('td', {'data-label': 'Duration', class: 'num'}, fmtDuration(run.duration_ms)),
      h('td', {'data-label': 'By'}, fmtWho(run)),
      h('td', {'data-label': 'Counts', class: 'counts'}, fmtCounts(run.counts, {labels: run.skipped_by_label})),
      h('td', {'data-label': 'Message', class: 'msg-cell'}, run.ui_message || run.error || ''));
    tr.addEventListener('click', e => {
      if (e.target.closest('a, button')) return;
      if (window.getSelection && String(window.getSelection())) return; // selecting text
      open();
    });
    // A run with steps: each step's counts under the run's.
    const steps = stepsList(run, `Steps of run #${run.id}`);
    if (steps) tr.querySelector('td.counts').append(steps);
    return tr;
  }

  function matchesLoosely(run) {
    if (filters.sync && run.sync !== filters.sync) return false;
    if (filters.user && run.user !== filters.user) return false;
    if (filters.tenant && run.tenant !== filters.tenant) return false;
    if (filters.to && new Date(localDayEnd(filters.to)).getTime() < Date.now()) return false;
    return true;
  }

  function reloadSoon() {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(load, 300);
  }

  function restore() {
    const saved = pagesByFilter.get(filterKey());
    stack = saved ? saved.slice() : [null];
  }

  restore();
  load();
  return {
    update(p) {
      filters = readFilters(p);
      restore();
      load();
    },
    onRun(type, run) {
      const tr = rows.get(run.id);
      if (tr && type !== 'run.finished') {
        const fresh = row(app.state.latest(run));
        tr.replaceWith(fresh);
        rows.set(run.id, fresh);
      } else if (tr || (stack.length === 1 && matchesLoosely(run) &&
                        (type === 'run.queued' || type === 'run.finished'))) {
        reloadSoon();
      }
    },
    unmount() {
      loading++;
      clearTimeout(reloadTimer);
    },
  };
}
