// progress.js - the live progress of a run: a progressbar, one or two lines of figures and,
// for a sync with steps, the step executing ("step 2 of 2: packages, 40%") and, when asked
// for, each step's counts so far.
import {h, setText, setAttr} from './dom.js';
import {progressLine, rateLine} from './format.js';
import {stepProgress, stepsView} from './steps.js';

/** steps: also list each step's counts (the card; the run page has a panel of its own). */
export function progressView(label = 'Sync progress', {steps = false} = {}) {
  const fill = h('span', {class: 'bar-fill'});
  const bar = h('div', {
    class: 'bar', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100',
    'aria-valuenow': '0', 'aria-label': label,
  }, fill);
  const line1 = h('span', {class: 'progress-main'});
  const line2 = h('span', {class: 'progress-sub'});
  const text = h('p', {class: 'progress-text', 'data-testid': 'progress-text'}, line1, line2);
  const step = h('p', {class: 'progress-step', 'data-testid': 'step-progress'});
  step.hidden = true;
  const list = steps ? stepsView('Steps of this run') : null;
  const el = h('div', {class: 'progress', 'data-testid': 'progress'}, bar, text, step, list && list.el);
  return {
    el,
    update(run) {
      const pct = Math.max(0, Math.min(100, Math.round(run.percent || 0)));
      setAttr(bar, 'aria-valuenow', pct);
      setAttr(bar, 'aria-valuetext', `${pct}%, ${run.phase || run.status}`);
      const phase = run.phase || '';
      bar.classList.toggle('bar--waiting', run.status === 'queued' || phase === 'connecting' ||
        phase.startsWith('retrying') || phase.startsWith('rate limited'));
      fill.style.width = `${pct}%`;
      setText(line1, progressLine(run));
      const sub = rateLine(run);
      setText(line2, sub ? ` · ${sub}` : '');
      const now = stepProgress(run);
      setText(step, now);
      step.hidden = !now;
      if (list) list.update(run);
    },
  };
}
