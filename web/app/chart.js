// chart.js - the insights chart, drawn as one inline SVG: duration per run on top, records by
// outcome (stacked) below, oldest run on the left. Colours come from CSS classes (style.css),
// so the chart follows the page's theme and needs no inline styles.
import {s, h} from './dom.js';
import {OUTCOMES, fmtDuration, fmtNumber, fmtCounts, fmtTime, statusLabel, skippedTotal} from './format.js';

const HEIGHT = 230;
const M = {left: 52, right: 10, top: 22};
const PANEL = 70; // height of each panel
const GAP = 40; // between the panels (room for the second title)

/** runs: newest first (as the API lists them). Returns an <svg>. */
export function runsChart(runs, width, title) {
  const W = Math.max(260, Math.floor(width));
  const data = runs.filter(r => r.finished_at).slice(0, 30).reverse();
  const plotW = W - M.left - M.right;
  const slots = Math.max(data.length, 12);
  const slot = plotW / slots;
  const barW = Math.max(2, Math.min(22, slot * 0.7));
  const x0 = M.left + plotW - data.length * slot; // newest at the right edge
  const durTop = M.top, durBottom = M.top + PANEL;
  const recTop = durBottom + GAP, recBottom = recTop + PANEL;

  const durations = data.map(r => r.duration_ms || 0);
  const maxDur = Math.max(1, ...durations);
  // A run's records by outcome; skipped counts every skipped record, labelled ones too.
  const count = (r, o) => (o === 'skipped' ? skippedTotal(r) : (r.counts && r.counts[o]) || 0);
  const totals = data.map(r => OUTCOMES.reduce((n, o) => n + count(r, o), 0));
  const maxRec = Math.max(1, ...totals);

  const avg = durations.length ? durations.reduce((a, b) => a + b, 0) / durations.length : 0;
  const desc = data.length
    ? `The last ${data.length} finished runs: durations from ${fmtDuration(Math.min(...durations))} ` +
      `to ${fmtDuration(maxDur)} (average ${fmtDuration(avg)}); up to ${fmtNumber(maxRec)} records a run.`
    : 'No finished runs yet.';
  const titleId = `chart-t-${Math.random().toString(36).slice(2)}`;
  const svg = s('svg', {
    class: 'chart', width: W, height: HEIGHT, viewBox: `0 0 ${W} ${HEIGHT}`, role: 'img',
    'aria-labelledby': titleId, 'data-testid': 'chart',
  },
  s('title', {id: titleId}, `${title}: duration and records by outcome per run. ${desc}`));

  const axis = (top, bottom, max, fmt, label) => {
    const g = s('g', {class: 'chart-axis'});
    g.append(
      s('text', {x: 0, y: top - 8, class: 'chart-label'}, label),
      s('line', {x1: M.left, x2: W - M.right, y1: top, y2: top, class: 'chart-grid'}),
      s('line', {x1: M.left, x2: W - M.right, y1: (top + bottom) / 2, y2: (top + bottom) / 2,
        class: 'chart-grid chart-grid--minor'}),
      s('line', {x1: M.left, x2: W - M.right, y1: bottom, y2: bottom, class: 'chart-base'}),
      s('text', {x: M.left - 6, y: top + 4, class: 'chart-tick', 'text-anchor': 'end'}, fmt(max)),
      s('text', {x: M.left - 6, y: bottom, class: 'chart-tick', 'text-anchor': 'end'}, '0'));
    return g;
  };
  svg.append(
    axis(durTop, durBottom, maxDur, fmtDuration, 'Duration per run'),
    axis(recTop, recBottom, maxRec, fmtNumber, 'Records by outcome'));

  if (!data.length) {
    svg.append(s('text', {x: M.left + plotW / 2, y: HEIGHT / 2, class: 'chart-empty',
      'text-anchor': 'middle'}, 'No finished runs yet'));
    return svg;
  }

  data.forEach((r, i) => {
    const cx = x0 + i * slot + (slot - barW) / 2;
    const d = r.duration_ms || 0;
    const hDur = Math.max(1, (d / maxDur) * PANEL);
    const when = fmtTime(r.finished_at);
    svg.append(s('g', {class: 'chart-run'},
      s('title', null, `Run #${r.id} · ${statusLabel(r.status)} · ${fmtDuration(d)} · ${when}`),
      s('rect', {x: cx, y: durBottom - hDur, width: barW, height: hDur, rx: 1.5,
        class: `bar-dur bar-dur--${r.status}`})));
    const g = s('g', {class: 'chart-run'},
      s('title', null, `Run #${r.id}: ${fmtCounts(r.counts, {labels: r.skipped_by_label})}`));
    let y = recBottom;
    for (const o of OUTCOMES) {
      const n = count(r, o);
      if (!n) continue;
      const hh = (n / maxRec) * PANEL;
      y -= hh;
      g.append(s('rect', {x: cx, y, width: barW, height: Math.max(0.5, hh), class: `seg seg--${o}`}));
    }
    if (y === recBottom) {
      g.append(s('rect', {x: cx, y: recBottom - 1, width: barW, height: 1, class: 'seg seg--none'}));
    }
    svg.append(g);
  });
  // Run ids under the oldest and the newest bar (one label when they would touch).
  const first = data[0], last = data[data.length - 1];
  const xFirst = x0 + (slot - barW) / 2 + barW / 2;
  const xLast = x0 + (data.length - 1) * slot + (slot - barW) / 2 + barW / 2;
  const label = (x, text, anchor) => s('text', {x, y: recBottom + 16, class: 'chart-tick', 'text-anchor': anchor}, text);
  svg.append(label(Math.min(xLast, W - M.right - 2), `#${last.id}`, xLast > W - M.right - 20 ? 'end' : 'middle'));
  if (data.length > 1 && xLast - xFirst > 60) svg.append(label(xFirst, `#${first.id}`, 'middle'));
  return svg;
}

/** The legend under the chart (HTML, so it wraps on a phone): one line per panel. */
export function chartLegend() {
  const item = (cls, label) => h('li', null, h('span', {class: `swatch ${cls}`, 'aria-hidden': 'true'}), label);
  return h('div', {class: 'legends'},
    h('ul', {class: 'legend', 'aria-label': 'Duration bars'},
      h('li', {class: 'legend-title'}, 'Duration:'),
      item('swatch--ok', 'succeeded'), item('swatch--bad', 'failed'), item('swatch--warn', 'cancelled')),
    h('ul', {class: 'legend', 'aria-label': 'Record bars'},
      h('li', {class: 'legend-title'}, 'Records:'),
      ...OUTCOMES.map(o => item(`seg--${o}`, o))));
}

/** Draws runsChart into box, and again when box's width changes. Returns a disposer. */
export function liveChart(box, runs, title) {
  let lastW = 0;
  const draw = () => {
    const w = box.clientWidth;
    if (!w || w === lastW) return;
    lastW = w;
    box.replaceChildren(runsChart(runs, w, title));
  };
  const ro = new ResizeObserver(() => requestAnimationFrame(draw));
  ro.observe(box);
  requestAnimationFrame(draw);
  return () => ro.disconnect();
}
