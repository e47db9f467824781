// views/run.js - #/runs/ID: everything about one run, and its changes by outcome
// (created, updated with each field's old → new, skipped and failed with the reason, deleted),
// which a field filter narrows to the records whose diff names that field.
//
// A held run (docs/review.md) opens with its review: why it is held, its counts per outcome
// and per step, a comment and Approve / Reject; its change set below is what approving
// applies. After an approval the view follows the run through its events to its end; a
// decided run shows the decision, who made it and the comment.
import {h, replace, setText, errorBox} from '../dom.js';
import {api} from '../api.js';
import {isActive, isHeld, runState, statusLabel, fmtTime, fmtDuration, fmtNumber, fmtCounts,
  OUTCOMES, CHANGE_OUTCOMES, capitalize, labelledSkips, skippedTotal, sourceLine, timeEl} from '../format.js';
import {activityView} from '../activity.js';
import {progressView} from '../progress.js';
import {runSteps, stepsView, stepsList, changeStep} from '../steps.js';
import {cancelRun, decideRun, revertRun} from '../actions.js';

const PAGE = 100;

export function mountRun(root, app, params, id) {
  let run = null;
  let outcome = params.get('outcome') || '';
  let field = params.get('field') || ''; // only records whose diff names this field
  let reviewKey = ''; // what the review panel shows (status, decision): redrawn when it changes
  let progress = null;
  let alive = true;
  let changesLoad = 0;
  const head = h('div', {class: 'page-head'},
    h('p', {class: 'crumbs'}, h('a', {href: '#/history'}, '← History')),
    h('h1', {tabindex: '-1'}, `Run #${id}`));
  const body = h('div', {class: 'run-detail', 'data-testid': 'run-detail', 'data-run': id,
    'aria-busy': 'true'}, h('p', {class: 'muted'}, 'Loading...'));
  replace(root, head, body);

  async function load() {
    try {
      const r = await api.get(`/api/runs/${id}`);
      if (!alive) return;
      app.state.accept(r);
      run = app.state.latest(r);
      render();
    } catch (e) {
      if (!alive) return;
      body.removeAttribute('aria-busy');
      replace(body, errorBox(e, e.status === 404 ? 'No such run' : 'Could not load the run'));
    }
  }

  // Parts updated in place while the run is live.
  let statusPill, messageBox, countsBox, factsBox, actionsBox, changesBox, reviewBox, msg;
  let steps, stepsBox; // the per-step lines, in a panel shown for a run with steps
  let activity; // the activity log: loaded with the run, then grown by run.activity events

  function render() {
    body.removeAttribute('aria-busy');
    const title = app.state.titleOf(run.sync);
    replace(head.querySelector('h1'), `Run #${run.id} · ${title}`);
    statusPill = h('span', {class: `pill pill--${run.status} pill--large`, 'data-testid': 'run-status'});
    messageBox = h('div', {class: 'run-message'});
    countsBox = h('dl', {class: 'counts-grid', 'data-testid': 'run-counts'});
    factsBox = h('dl', {class: 'facts'});
    actionsBox = h('div', {class: 'run-actions'});
    msg = h('p', {class: 'card-msg', role: 'status'});
    changesBox = h('section', {class: 'changes', 'aria-labelledby': 'changes-h'});
    reviewBox = h('section', {class: 'panel review', 'aria-labelledby': 'review-h', 'data-testid': 'review',
      hidden: true});
    reviewKey = '';
    steps = stepsView('Steps of this run');
    stepsBox = h('section', {class: 'panel', 'aria-labelledby': 'steps-h', 'data-testid': 'run-steps'},
      h('h2', {id: 'steps-h', class: 'panel-title'}, 'Steps'), steps.el);
    progress = null;
    activity = activityView();
    activity.reset(run.activity);
    replace(body,
      h('div', {class: 'run-top'}, statusPill, actionsBox),
      messageBox, msg, reviewBox,
      h('section', {class: 'panel', 'aria-labelledby': 'counts-h'},
        h('h2', {id: 'counts-h', class: 'panel-title'}, 'Records'), countsBox),
      stepsBox,
      h('section', {class: 'panel', 'aria-labelledby': 'facts-h'},
        h('h2', {id: 'facts-h', class: 'panel-title'}, 'Details'), factsBox),
      activity.el,
      logSection(),
      deliveriesBox = h('section', {class: 'panel', 'aria-labelledby': 'deliveries-h',
        'data-testid': 'run-deliveries', hidden: true}),
      changesBox);
    deliveriesAsked = false;
    update();
    renderChanges();
  }

  // ---- what the run's end told the application (webhooks, the change feed, e-mail) ----
  let deliveriesBox, deliveriesAsked = false;
  async function loadDeliveries() {
    if (isActive(run) || !deliveriesBox) return;
    let list;
    try {
      list = (await api.get(`/api/runs/${run.id}/deliveries`)).deliveries;
    } catch (e) {
      return; // the rest of the page stands without them
    }
    if (!alive || !list.length) return;
    const row = d => {
      const cells = [
        h('td', null, d.kind === 'records' ? `records, batch ${d.seq}` : d.kind),
        h('td', {class: 'mono'}, d.endpoint || '–'),
        h('td', null, h('span', {class: `pill pill--${d.status === 'delivered' ? 'succeeded'
          : d.status === 'failed' ? 'failed' : 'queued'}`, 'data-testid': 'delivery-status'},
          capitalize(d.status))),
        h('td', null, String(d.attempts)),
        h('td', null, d.last_error || (d.last_status ? String(d.last_status) : '–')),
        h('td', null, d.next_attempt_at ? fmtTime(d.next_attempt_at) : '–'),
      ];
      if (app.state.canOperate) {
        const btn = h('button', {type: 'button', class: 'btn btn--ghost btn--small',
          'data-testid': 'redeliver'}, 'Redeliver');
        btn.addEventListener('click', async () => {
          btn.disabled = true;
          try {
            await api.post(`/api/deliveries/${encodeURIComponent(d.id)}/redeliver`);
            setText(msg, 'Sent again shortly.');
            setTimeout(loadDeliveries, 1500);
          } catch (e) {
            btn.disabled = false;
            msg.className = 'card-msg card-msg--error';
            setText(msg, e.message);
          }
        });
        cells.push(h('td', null, btn));
      }
      return h('tr', {'data-delivery': d.id}, ...cells);
    };
    deliveriesBox.hidden = false;
    replace(deliveriesBox, h('h2', {id: 'deliveries-h', class: 'panel-title'}, 'Deliveries'),
      h('table', {class: 'table'},
        h('thead', null, h('tr', null, ...['Kind', 'Endpoint', 'Status', 'Attempts', 'Last answer',
          'Next attempt'].map(t => h('th', {scope: 'col'}, t)),
          app.state.canOperate ? h('th', {scope: 'col'}, h('span', {class: 'sr-only'}, 'Actions')) : null)),
        h('tbody', null, ...list.map(row))));
  }

  function logSection() {
    if (!run.log_message && !run.error) return null;
    return h('section', {class: 'panel', 'aria-labelledby': 'log-h'},
      h('h2', {id: 'log-h', class: 'panel-title'}, 'Log'),
      run.error ? h('p', {class: 'run-error', 'data-testid': 'run-error'},
        h('strong', null, 'Error: '), run.error,
        run.error_code ? h('span', {class: 'muted'}, ` (${run.error_code})`) : null) : null,
      run.log_message ? h('pre', {class: 'log', 'data-testid': 'log-message', tabindex: '0'}, run.log_message) : null);
  }

  function update() {
    const state = runState(run);
    statusPill.className = `pill pill--${run.status} pill--large`;
    setText(statusPill, statusLabel(run.status));
    steps.update(run); // a queued run has no steps yet: the panel shows once it starts
    stepsBox.hidden = !runSteps(run);
    messageBox.className = `run-message run-message--${state}`;
    if (isActive(run)) {
      if (!progress) {
        progress = progressView('Run progress');
        replace(messageBox, h('p', null, run.status === 'queued' ? 'Queued: waiting for a worker...' : 'Syncing...'),
          progress.el);
      }
      setText(messageBox.firstChild, run.status === 'queued' ? 'Queued: waiting for a worker...' : 'Syncing...');
      progress.update(run);
    } else {
      progress = null;
      replace(messageBox, h('p', {'data-testid': 'ui-message'}, run.ui_message || statusLabel(run.status)));
    }
    // Labelled skips ("3 FLAT skipped") follow the plain skipped count, which leaves them out.
    replace(countsBox, ...OUTCOMES.flatMap(o => [
      h('div', {class: `count count--${o}`, 'data-outcome': o},
        h('dt', null, capitalize(o)), h('dd', null, fmtNumber(run.counts ? run.counts[o] : 0))),
      ...(o === 'skipped' ? labelledSkips(run).map(([label, n]) =>
        h('div', {class: 'count count--skipped count--label', 'data-testid': 'label-count',
          'data-label': label},
        h('dt', null, `${label} skipped`), h('dd', null, fmtNumber(n)))) : []),
    ]));
    const fact = (k, v) => h('div', {class: 'fact'}, h('dt', null, k), h('dd', null, v));
    replace(factsBox,
      fact('Sync', h('a', {href: `#/history?sync=${encodeURIComponent(run.sync)}`}, app.state.titleOf(run.sync))),
      run.tenant ? fact('Tenant', run.tenant) : null,
      fact('Status', statusLabel(run.status) + (run.phase && run.phase !== 'done' ? ` (${run.phase})` : '')),
      fact('Trigger', run.trigger || '–'),
      fact('Started by', run.user || '–'),
      run.token ? fact('API token', run.token) : null,
      run.cancelled_by ? fact('Cancelled by', run.cancelled_by) : null,
      run.reverts ? fact('Reverts', h('a', {href: `#/runs/${run.reverts}`}, `Run #${run.reverts}`))
        : null,
      run.revert_comment ? fact('Comment', run.revert_comment) : null,
      fact('Queued', fmtTime(run.queued_at)),
      fact('Started', fmtTime(run.started_at)),
      fact('Finished', fmtTime(run.finished_at)),
      fact('Duration', fmtDuration(run.duration_ms)),
      fact('Attempt', String(run.attempt ?? 1)),
      run.mode ? fact('Mode', run.mode === 'incremental' && run.since
        ? `Incremental since ${fmtTime(run.since)}` : (run.full ? 'Full (asked for)' : 'Full')) : null,
      sourceLine(run) ? fact('Source read', h('span', {'data-testid': 'source-size'}, sourceLine(run)))
        : null,
      run.dry_run ? fact('Dry run', 'yes: nothing was written') : null);
    // Cancel while active (operators and admins).
    if (isActive(run) && app.state.canOperate) {
      if (!actionsBox.querySelector('[data-testid="cancel"]')) {
        const btn = h('button', {type: 'button', class: 'btn btn--danger-ghost', 'data-testid': 'cancel'},
          'Cancel');
        btn.addEventListener('click', async () => {
          btn.disabled = true;
          btn.setAttribute('aria-busy', 'true');
          setText(msg, 'Cancelling...');
          const r = await cancelRun(app, run.id);
          if (r.error) {
            btn.disabled = false;
            btn.removeAttribute('aria-busy');
            msg.className = 'card-msg card-msg--error';
            setText(msg, r.error.message);
          } else {
            setText(msg, r.message);
          }
        });
        actionsBox.append(btn);
      }
    } else if (run.status === 'succeeded' && !run.dry_run && !run.changes_pruned_at && app.state.canOperate) {
      // Revert a succeeded run (operators and admins): a new run, whose page opens.
      if (!actionsBox.querySelector('[data-testid="revert"]')) {
        const btn = h('button', {type: 'button', class: 'btn btn--danger-ghost', 'data-testid': 'revert'},
          'Revert');
        btn.addEventListener('click', async () => {
          const comment = window.prompt(`Revert run #${run.id}? Rows changed since are left alone.` +
            ' Comment (optional):', '');
          if (comment === null) return;
          btn.disabled = true;
          btn.setAttribute('aria-busy', 'true');
          setText(msg, 'Reverting...');
          const r = await revertRun(app, run.id, {comment});
          btn.disabled = false;
          btn.removeAttribute('aria-busy');
          if (r.error) {
            msg.className = 'card-msg card-msg--error';
            setText(msg, r.error.message);
          } else {
            location.hash = `#/runs/${r.run.id}`;
          }
        });
        replace(actionsBox, btn);
      }
    } else {
      replace(actionsBox);
    }
    renderReview();
    // Once the run has ended (also when it ends while shown), what it owes the application.
    if (!isActive(run) && !deliveriesAsked) {
      deliveriesAsked = true;
      loadDeliveries();
    }
  }

  // ---- the review of a held run, and the decision on it ----
  function renderReview() {
    const key = `${run.status}/${run.decision || ''}/${run.held_reason || ''}`;
    if (key === reviewKey) return;
    reviewKey = key;
    if (!isHeld(run) && !run.decision) {
      reviewBox.hidden = true;
      replace(reviewBox);
      return;
    }
    reviewBox.hidden = false;
    reviewBox.className = `panel review review--${isHeld(run) ? 'held' : run.decision}`;
    const title = h('h2', {id: 'review-h', class: 'panel-title'},
      isHeld(run) ? (run.preview ? 'Preview: held for review' : 'Held for review') : 'Review');
    const decision = run.decision ? h('p', {class: 'review-decision', 'data-testid': 'decision'},
      h('strong', null, `${capitalize(run.decision)}`),
      run.decided_by ? ` by ${run.decided_by}` : '',
      run.decided_at ? [' ', timeEl(run.decided_at)] : '',
      run.decision_comment ? [': ', h('q', {class: 'review-comment-text', 'data-testid': 'decision-comment'},
        run.decision_comment)] : '',
      run.decision === 'approved' && isActive(run) ? h('span', {class: 'muted'}, ' · applying the changes...') : '')
      : null;
    if (!isHeld(run)) {
      replace(reviewBox, title, decision);
      return;
    }
    // Rows of all kinds count here, unchanged too: what the run would do as a whole.
    const counts = h('p', {class: 'review-counts', 'data-testid': 'review-counts'},
      fmtCounts(run.counts, {labels: run.skipped_by_label}));
    const comment = h('textarea', {id: 'review-comment', class: 'input review-comment', rows: '2',
      maxlength: '1000', 'data-testid': 'review-comment', placeholder: 'Why (kept with the decision)'});
    const approve = h('button', {type: 'button', class: 'btn btn--primary', 'data-testid': 'approve-run'},
      'Approve');
    const reject = h('button', {type: 'button', class: 'btn btn--danger-ghost', 'data-testid': 'reject-run'},
      'Reject');
    const note = h('p', {class: 'review-note muted', 'data-testid': 'review-note'});
    const role = app.state.me.role;
    if (!app.state.canOperate) {
      approve.disabled = reject.disabled = comment.disabled = true;
      setText(note, `Only an operator or an admin may decide; you are ${role || 'a viewer'}.`);
    } else if (run.held_admin && role !== 'admin') {
      approve.disabled = true;
      setText(note, 'It changes a protected field: only an admin may approve it. You may reject it.');
    }
    const decide = async ok => {
      approve.disabled = reject.disabled = true;
      setText(msg, ok ? 'Approving...' : 'Rejecting...');
      msg.className = 'card-msg';
      const r = await decideRun(app, run.id, ok, comment.value.trim());
      if (!alive) return;
      if (r.error) {
        msg.className = 'card-msg card-msg--error';
        setText(msg, r.error.message);
        approve.disabled = !app.state.canOperate || (run.held_admin && role !== 'admin');
        reject.disabled = false;
        return;
      }
      setText(msg, r.message || '');
      // An approval is queued: the run's events (onRun) follow it to its end.
      run = r.run;
      if (isActive(run)) render();
      else load();
    };
    approve.addEventListener('click', () => decide(true));
    reject.addEventListener('click', () => decide(false));
    replace(reviewBox, title,
      h('p', {class: 'review-reason', 'data-testid': 'held-reason'}, run.held_reason || ''),
      h('p', {class: 'muted'}, 'Nothing has been written. Approving applies exactly the changes listed below',
        run.held_until ? [' (until ', timeEl(run.held_until, 'short'), ', when the run expires)'] : '', '.'),
      counts,
      stepsList(run, 'Steps of this run'),
      decision,
      h('div', {class: 'review-form'},
        h('label', {for: 'review-comment'}, 'Comment'), comment,
        h('div', {class: 'review-buttons'}, approve, reject), note));
  }

  // ---- changes, by outcome ----
  function renderChanges() {
    if (isActive(run)) {
      replace(changesBox, h('h2', {id: 'changes-h', class: 'panel-title'}, 'Changes'),
        h('p', {class: 'muted'}, 'The changes are listed when the run finishes.'));
      return;
    }
    // Retention pruned its change rows (docs/config.md, "Retention"): the counts above stay.
    if (run.changes_pruned_at) {
      replace(changesBox, h('h2', {id: 'changes-h', class: 'panel-title'}, 'Changes'),
        h('p', {class: 'muted', 'data-testid': 'changes-pruned'},
          `The change detail of this run was pruned on ${fmtTime(run.changes_pruned_at)}; its counts remain.`));
      return;
    }
    // The Skipped tab lists every skipped record, labelled ones too.
    const counts = {...(run.counts || {}), skipped: skippedTotal(run)};
    if (!CHANGE_OUTCOMES.includes(outcome)) {
      outcome = ['failed', 'updated', 'created', 'skipped', 'deleted'].find(o => counts[o] > 0) || 'created';
    }
    const tabs = CHANGE_OUTCOMES.map(o => {
      const selected = o === outcome;
      const tab = h('button', {
        type: 'button', role: 'tab', id: `tab-${o}`, 'data-outcome': o, class: `tab tab--${o}`,
        'aria-selected': selected ? 'true' : 'false', 'aria-controls': 'changes-panel',
        tabindex: selected ? '0' : '-1',
      }, capitalize(o), ' ', h('span', {class: 'tab-count'}, fmtNumber(counts[o] || 0)));
      tab.addEventListener('click', () => select(o, false));
      return tab;
    });
    const tablist = h('div', {role: 'tablist', class: 'tabs', 'aria-label': 'Changes by outcome'}, ...tabs);
    tablist.addEventListener('keydown', e => {
      const focused = e.target.closest('[role="tab"]');
      const i = CHANGE_OUTCOMES.indexOf(focused ? focused.dataset.outcome : outcome);
      let j = null;
      if (e.key === 'ArrowRight') j = (i + 1) % CHANGE_OUTCOMES.length;
      else if (e.key === 'ArrowLeft') j = (i - 1 + CHANGE_OUTCOMES.length) % CHANGE_OUTCOMES.length;
      else if (e.key === 'Home') j = 0;
      else if (e.key === 'End') j = CHANGE_OUTCOMES.length - 1;
      if (j !== null) {
        e.preventDefault();
        select(CHANGE_OUTCOMES[j], true);
      }
    });
    const panel = h('div', {role: 'tabpanel', id: 'changes-panel', class: 'tabpanel',
      'aria-labelledby': `tab-${outcome}`, tabindex: '0'});
    // The field filter: the fields named by the diffs loaded so far (more appear with each page).
    const fieldSel = h('select', {id: 'change-field', class: 'input input--small', 'data-testid': 'change-field'},
      h('option', {value: ''}, 'Any field'));
    const fieldWrap = h('span', {class: 'change-filter'}, h('label', {for: 'change-field'}, 'Field'), fieldSel);
    fieldSel.addEventListener('change', () => {
      field = fieldSel.value;
      keepAddress();
      filterRows(panel);
    });
    replace(changesBox, h('div', {class: 'changes-head'},
      h('h2', {id: 'changes-h', class: 'panel-title'}, 'Changes'), fieldWrap), tablist, panel);
    loadChanges(panel, null);

    function select(o, focus) {
      if (o === outcome && !focus) return;
      outcome = o;
      for (const t of tabs) {
        const sel = t.dataset.outcome === o;
        t.setAttribute('aria-selected', sel ? 'true' : 'false');
        t.tabIndex = sel ? 0 : -1;
        if (sel && focus) t.focus();
      }
      panel.setAttribute('aria-labelledby', `tab-${o}`);
      keepAddress();
      loadChanges(panel, null);
    }
  }

  /** Keeps the tab and the field in the address so a link or a refresh opens them. */
  function keepAddress() {
    const q = new URLSearchParams({outcome});
    if (field) q.set('field', field);
    history.replaceState(null, '', `#/runs/${run.id}?${q}`);
  }

  /** Adds the fields the rows' diffs name to the field filter's options (sorted). */
  function noteFields(changes) {
    const sel = changesBox.querySelector('[data-testid="change-field"]');
    if (!sel) return;
    const have = new Set([...sel.options].map(o => o.value));
    if (field) have.add(field);
    const names = new Set([...have].filter(Boolean));
    for (const c of changes) {
      if (c.diff && typeof c.diff === 'object') Object.keys(c.diff).forEach(f => names.add(f));
    }
    const sorted = [...names].sort();
    if (sorted.length === sel.options.length - 1 && sorted.every((f, i) => sel.options[i + 1].value === f)) return;
    sel.replaceChildren(h('option', {value: ''}, 'Any field'), ...sorted.map(f => h('option', {value: f}, f)));
    sel.value = field;
  }

  /** Hides the loaded rows whose diff does not name the field filter's field, and says so. */
  function filterRows(panel) {
    const rows = [...panel.querySelectorAll('[data-testid="change-row"]')];
    let shown = 0;
    for (const li of rows) {
      const names = li.dataset.fields ? li.dataset.fields.split('\n') : [];
      li.hidden = !!field && !names.includes(field);
      if (!li.hidden) shown++;
    }
    let note = panel.querySelector('[data-testid="field-note"]');
    if (!field || !rows.length) {
      if (note) note.remove();
      return;
    }
    if (!note) {
      note = h('p', {class: 'muted field-note', 'data-testid': 'field-note', role: 'status'});
      panel.prepend(note);
    }
    setText(note, shown ? `${fmtNumber(shown)} of the ${fmtNumber(rows.length)} records loaded change ${field}.`
      : `None of the ${fmtNumber(rows.length)} records loaded change ${field}.`);
  }

  async function loadChanges(panel, cursor) {
    const my = ++changesLoad;
    const o = outcome;
    let list = panel.querySelector('.change-list');
    let more = panel.querySelector('[data-testid="more-changes"]');
    if (!cursor) {
      list = h('ol', {class: 'change-list'});
      replace(panel, h('p', {class: 'muted'}, 'Loading...'));
    } else if (more) {
      more.disabled = true;
      more.setAttribute('aria-busy', 'true');
    }
    try {
      const data = await api.get(`/api/runs/${run.id}/changes`, {outcome: o, limit: PAGE, cursor: cursor || ''});
      if (!alive || my !== changesLoad) return;
      if (!cursor) {
        replace(panel, list);
        if (!data.changes.length) {
          replace(panel, h('p', {class: 'empty'}, `No ${o} records in this run.`));
          return;
        }
      }
      list.append(...data.changes.map(changeRow));
      noteFields(data.changes);
      filterRows(panel);
      if (more) more.remove();
      if (data.next_cursor) {
        more = h('button', {type: 'button', class: 'btn', 'data-testid': 'more-changes'}, 'Load more');
        more.addEventListener('click', () => {
          const first = list.children.length;
          loadChanges(panel, data.next_cursor).then(() => {
            const row = list.children[first];
            if (row) row.focus();
          });
        });
        panel.append(more);
      }
    } catch (e) {
      if (!alive || my !== changesLoad) return;
      if (more) {
        more.disabled = false;
        more.removeAttribute('aria-busy');
      }
      panel.append(errorBox(e, 'Could not load the changes'));
    }
  }

  function changeRow(c) {
    // A sync with label: names its records ("John Doe (john@example.com)"); the key follows.
    const parts = [
      c.label ? h('span', {class: 'change-label', 'data-testid': 'change-label'}, c.label) : null,
      h('span', {class: c.label ? 'change-key change-key--aside' : 'change-key'}, c.key || '(no key)'),
      c.row !== null && c.row !== undefined ? h('span', {class: 'change-row-no'}, `row ${c.row}`) : null,
    ];
    const li = h('li', {class: `change change--${c.outcome}`, 'data-testid': 'change-row', tabindex: '-1'},
      h('div', {class: 'change-head'}, ...parts));
    li.firstChild.prepend(...changeStep(c)); // "packages · P1"
    if (c.reason) li.append(h('p', {class: 'change-reason'}, c.reason));
    // A Google Sheet's record links to the cell to fix ("...#gid=0&range=C17").
    if (c.link && /^https?:\/\//.test(c.link)) {
      const cell = (/[#&]range=([A-Z]+[0-9]+)$/.exec(c.link) || [])[1];
      li.append(h('a', {class: 'change-fix', href: c.link, target: '_blank', rel: 'noopener noreferrer',
        'data-testid': 'change-fix'}, cell ? `Fix cell ${cell} in the sheet ↗` : 'Fix it in the sheet ↗'));
    }
    if (c.diff && typeof c.diff === 'object') {
      li.dataset.fields = Object.keys(c.diff).join('\n');
      const dl = h('dl', {class: 'diff'});
      for (const [field, pair] of Object.entries(c.diff)) {
        const [oldV, newV] = Array.isArray(pair) ? pair : [null, pair];
        dl.append(h('div', {class: 'diff-row'},
          h('dt', null, `${field}: `),
          h('dd', null,
            h('del', {class: 'diff-old'}, shown(oldV)),
            h('span', {class: 'diff-arrow'}, ' → '),
            h('ins', {class: 'diff-new'}, shown(newV)))));
      }
      li.append(dl);
    }
    return li;
  }

  function shown(v) {
    if (v === null || v === undefined) return '(empty)';
    if (v === '') return '""';
    return String(v);
  }

  load();
  return {
    onRun(type, r) {
      if (!run || r.id !== run.id) return;
      const fresh = app.state.latest(r);
      const wasActive = isActive(run);
      run = fresh;
      if (type === 'run.finished' || (wasActive && !isActive(run))) {
        load(); // the stored record: final counts, log, changes
      } else {
        update();
      }
    },
    onActivity(entry) {
      if (run && activity && entry.id === run.id) activity.add(entry);
    },
    unmount() {
      alive = false;
    },
  };
}
