// steps.js - a run of a sync with steps: one line per step with its own counts ("brands: 0
// created, 0 updated, 10 unchanged, 0 skipped, 0 failed"), and while it runs which step is
// executing ("step 2 of 2: packages, 40%"). The run's JSON carries them in run.steps (absent
// for a sync without steps: then nothing here shows). Step names come from the config: they
// are only ever set as text.
import {h, setText, setAttr} from './dom.js';
import {fmtNumber, isActive} from './format.js';

// The outcomes of a step's sentence in the run's message, in its order; deleted is added
// when the step deleted some.
const STEP_OUTCOMES = ['created', 'updated', 'unchanged', 'skipped', 'failed'];

/** The run's steps (a non-empty array), or null for a run of a sync without steps. */
export function runSteps(run) {
  return run && Array.isArray(run.steps) && run.steps.length ? run.steps : null;
}

/** A step's counts as its sentence of the run's message has them: "0 created, 0 updated, 10
 *  unchanged, 0 skipped, 0 failed"; each labelled skip after skipped ("3 FLAT skipped") when
 *  the step has skipped_by_label; ", 2 deleted" when some were deleted. */
export function stepCounts(step) {
  const c = step.counts || {};
  const parts = [];
  for (const o of STEP_OUTCOMES) {
    parts.push(`${fmtNumber(c[o] || 0)} ${o}`);
    if (o !== 'skipped') continue;
    for (const [label, n] of Object.entries(step.skipped_by_label || {})) {
      parts.push(`${fmtNumber(n || 0)} ${label} skipped`);
    }
  }
  if (c.deleted) parts.push(`${fmtNumber(c.deleted)} deleted`);
  return parts.join(', ');
}

/** "step 2 of 2: packages, 40%" while a step of an active run executes; '' otherwise
 *  (a run without steps, a finished run, or one still fetching its sources). */
export function stepProgress(run) {
  const steps = runSteps(run);
  if (!steps || !isActive(run)) return '';
  const i = steps.findIndex(st => st.status === 'running');
  if (i < 0) return '';
  const pct = Math.max(0, Math.min(100, Math.round(steps[i].percent || 0)));
  return `step ${i + 1} of ${steps.length}: ${steps[i].name}, ${pct}%`;
}

/** What follows a step's counts: nothing once it is done, else its status in brackets. */
function statusNote(step) {
  return step.status && step.status !== 'done' ? ` (${step.status})` : '';
}

/** One line per step, updated in place: <ol data-testid="steps"> of <li data-testid="step"
 *  data-step="NAME" data-status="STATUS">, hidden for a run without steps. A step not begun
 *  reads "packages: pending"; one that is not done has its status after the counts
 *  ("brands: 2 created, ... (rolled back)"). */
export function stepsView(label = 'Steps') {
  const el = h('ol', {class: 'steps', 'data-testid': 'steps', 'aria-label': label});
  el.hidden = true;
  let items = [];

  function build(steps) {
    items = steps.map(() => {
      const name = h('span', {class: 'step-name'});
      const counts = h('span', {class: 'step-counts'});
      const note = h('span', {class: 'step-status'});
      const li = h('li', {class: 'step', 'data-testid': 'step'}, name, ': ', counts, note);
      return {li, name, counts, note};
    });
    el.replaceChildren(...items.map(it => it.li));
  }

  return {
    el,
    update(run) {
      const steps = runSteps(run);
      el.hidden = !steps;
      if (!steps) {
        if (items.length) build([]);
        return;
      }
      if (items.length !== steps.length) build(steps);
      steps.forEach((st, i) => {
        const it = items[i];
        const status = st.status || 'pending';
        setAttr(it.li, 'data-step', st.name);
        setAttr(it.li, 'data-status', status);
        it.li.className = `step step--${status.replace(/[^a-z]+/g, '-')}`;
        setText(it.name, st.name);
        setText(it.counts, status === 'pending' ? 'pending' : stepCounts(st));
        setText(it.note, status === 'pending' ? '' : statusNote(st));
      });
    },
  };
}

/** A steps list of a run that no longer changes (null for a run without steps). */
export function stepsList(run, label) {
  if (!runSteps(run)) return null;
  const view = stepsView(label);
  view.update(run);
  return view.el;
}

/** The step a change row belongs to, shown before its key ("packages · P1"): two elements,
 *  or [] for a change of a sync without steps. */
export function changeStep(change) {
  if (!change.step) return [];
  return [h('span', {class: 'change-step', 'data-testid': 'change-step'}, change.step),
    h('span', {class: 'change-step-sep', 'aria-hidden': 'true'}, '·')];
}
