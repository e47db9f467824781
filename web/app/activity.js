// activity.js - a run's activity log (docs/ui.md "The run page"): a collapsible list of
// timestamped entries (connected, each page, each wait and retry, each phase), from the
// run's `activity` and then, while it runs, from run.activity events, which number their
// entries (n) so an entry the loaded list already holds is not shown twice.
import {h, setText} from './dom.js';
import {fmtClock} from './format.js';

/** How many entries a loaded log stands for: its own plus those a "dropped" entry counts. */
function entriesIn(list) {
  let n = 0;
  for (const e of list) {
    const m = e.kind === 'dropped' ? /^(\d+)/.exec(e.text || '') : null;
    n += m ? Number(m[1]) : 1;
  }
  return n;
}

export function activityView() {
  const count = h('span', {class: 'muted', 'data-testid': 'activity-count'});
  const list = h('ol', {class: 'activity', 'data-testid': 'activity-list'});
  const empty = h('p', {class: 'muted'}, 'Nothing yet.');
  const details = h('details', {class: 'activity-box', open: true},
    h('summary', {class: 'panel-title'}, 'Activity ', count), empty, list);
  const el = h('section', {class: 'panel', 'data-testid': 'run-activity'}, details);
  let seen = 0; // entries shown or counted, the last n known
  let shown = 0;

  const item = e => h('li', {class: `activity-item activity-item--${e.kind}`, 'data-kind': e.kind},
    h('time', {datetime: e.at, class: 'mono'}, fmtClock(e.at)), ' ', h('span', null, e.text));

  function counted() {
    setText(count, shown ? `(${shown})` : '');
    empty.hidden = shown > 0;
  }

  return {
    el,
    /** Shows a run's stored (or so far) log, or none. */
    reset(entries) {
      const all = Array.isArray(entries) ? entries : [];
      list.replaceChildren(...all.map(item));
      shown = all.length;
      seen = entriesIn(all);
      counted();
    },
    /** A run.activity event's entry: added when newer than what is shown. */
    add(entry) {
      if (!entry || entry.n <= seen) return;
      seen = entry.n;
      list.append(item(entry));
      shown++;
      counted();
    },
  };
}
