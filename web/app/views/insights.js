// views/insights.js - #/insights: per sync, a chart of the last 30 runs (duration, records by
// outcome), the success rate, typical durations, record totals and the top failure reasons.
import {h, replace, setText, errorBox} from '../dom.js';
import {api} from '../api.js';
import {fmtDuration, fmtNumber, OUTCOMES} from '../format.js';
import {liveChart, chartLegend} from '../chart.js';

export function mountInsights(root, app) {
  let alive = true;
  const grid = h('div', {class: 'cards cards--wide'});
  const errorSlot = h('div');
  replace(root,
    h('div', {class: 'page-head'}, h('h1', {tabindex: '-1'}, 'Insights'),
      h('p', {class: 'page-sub'}, 'How each sync has been doing: its last 30 runs, success rate and what fails most.')),
    errorSlot, grid);
  const cards = new Map(); // name -> {el, fill(stats, runs), dispose}
  const timers = new Map();

  for (const sync of app.state.syncs) {
    const card = createCard(sync);
    cards.set(sync.name, card);
    grid.append(card.el);
  }
  if (!app.state.syncs.length) grid.append(h('p', {class: 'empty'}, 'No syncs are configured.'));

  async function loadAll() {
    try {
      const [stats, ...runLists] = await Promise.all([
        api.get('/api/stats'),
        ...app.state.syncs.map(s => api.get('/api/runs', {sync: s.name, limit: 30})),
      ]);
      if (!alive) return;
      replace(errorSlot);
      app.state.syncs.forEach((s, i) => {
        const card = cards.get(s.name);
        if (card) card.fill(stats.syncs ? stats.syncs[s.name] : null, runLists[i].runs);
      });
    } catch (e) {
      if (alive) replace(errorSlot, errorBox(e, 'Could not load the insights'));
    }
  }

  async function loadOne(name) {
    try {
      const [stats, runs] = await Promise.all([
        api.get('/api/stats'), api.get('/api/runs', {sync: name, limit: 30}),
      ]);
      const card = cards.get(name);
      if (alive && card) card.fill(stats.syncs ? stats.syncs[name] : null, runs.runs);
    } catch (e) {
      if (alive) replace(errorSlot, errorBox(e, 'Could not refresh the insights'));
    }
  }

  function createCard(sync) {
    const title = sync.title || sync.name;
    const rate = h('p', {class: 'stat-value', 'data-testid': 'success-rate'}, '–');
    const rateSub = h('p', {class: 'stat-sub'});
    const avg = h('p', {class: 'stat-value'}, '–');
    const p95 = h('p', {class: 'stat-sub'});
    const records = h('p', {class: 'stat-sub stat-records'});
    const chartBox = h('div', {class: 'chart-box', 'aria-busy': 'true'});
    const reasons = h('ol', {class: 'reasons', 'data-testid': 'failure-reasons'});
    let dispose = null;
    const el = h('article', {class: 'card insights-card', 'data-testid': 'insights-card', 'data-sync': sync.name},
      h('header', {class: 'card-head'}, h('h2', {class: 'card-title'}, title),
        h('a', {class: 'btn btn--ghost btn--small', href: `#/history?sync=${encodeURIComponent(sync.name)}`}, 'History')),
      h('div', {class: 'stats'},
        h('div', {class: 'stat'}, h('p', {class: 'stat-label'}, 'Success rate'), rate, rateSub),
        h('div', {class: 'stat'}, h('p', {class: 'stat-label'}, 'Average duration'), avg, p95),
        h('div', {class: 'stat'}, h('p', {class: 'stat-label'}, 'Records'), records)),
      h('figure', {class: 'chart-figure'}, chartBox,
        h('figcaption', null, h('p', {class: 'chart-caption'}, 'The last 30 finished runs, oldest on the left.'), chartLegend())),
      h('h3', {class: 'panel-title'}, 'Top failure reasons'),
      reasons);
    return {
      el,
      fill(st, runs) {
        if (st && st.success_rate !== null && st.success_rate !== undefined) {
          const pct = Math.round(st.success_rate * 1000) / 10;
          setText(rate, `${pct}%`);
          rate.className = `stat-value ${pct >= 95 ? 'good' : pct >= 70 ? 'warn' : 'bad'}`;
        } else {
          setText(rate, '–');
          rate.className = 'stat-value';
        }
        setText(rateSub, st ? `of ${fmtNumber(st.runs)} run${st.runs === 1 ? '' : 's'}` : 'no runs yet');
        setText(avg, st && st.avg_duration_ms !== null && st.avg_duration_ms !== undefined
          ? fmtDuration(st.avg_duration_ms) : '–');
        setText(p95, st && st.p95_duration_ms !== null && st.p95_duration_ms !== undefined
          ? `95% within ${fmtDuration(st.p95_duration_ms)}` : '');
        const rec = st && st.records ? st.records : null;
        replace(records, ...(rec ? OUTCOMES.filter(o => rec[o]).flatMap(o => [
          h('span', {class: 'rec'}, h('span', {class: `swatch seg--${o}`, 'aria-hidden': 'true'}),
            `${fmtNumber(rec[o])} ${o}`), ' ',
        ]) : []));
        if (!records.childNodes.length) setText(records, 'none yet');
        if (dispose) dispose();
        chartBox.removeAttribute('aria-busy');
        dispose = liveChart(chartBox, runs || [], title);
        const top = st && Array.isArray(st.top_failure_reasons) ? st.top_failure_reasons : [];
        replace(reasons, ...top.map(r => h('li', {class: 'reason'},
          h('span', {class: 'reason-text'}, r.reason),
          h('span', {class: 'reason-count'}, fmtNumber(r.count), h('span', {class: 'sr-only'}, ' times')))));
        if (!top.length) reasons.append(h('li', {class: 'reason reason--none'}, 'No failed records.'));
      },
      dispose() {
        if (dispose) dispose();
      },
    };
  }

  loadAll();
  return {
    onRun(type, run) {
      if (type !== 'run.finished' || !cards.has(run.sync)) return;
      clearTimeout(timers.get(run.sync));
      timers.set(run.sync, setTimeout(() => loadOne(run.sync), 300));
    },
    onSyncs() {},
    unmount() {
      alive = false;
      for (const t of timers.values()) clearTimeout(t);
      for (const c of cards.values()) c.dispose();
    },
  };
}
