// main.js - boots the admin page: who is logged in, the shell (header, notifications, view),
// the hash router and the live event stream.
import {h, replace, setText, errorBox} from './dom.js';
import {api, setCsrf, setUnauthorizedHandler} from './api.js';
import {connectEvents} from './events.js';
import {State} from './state.js';
import {Notifications} from './notifications.js';
import {Prefs, prefsControl} from './prefs.js';
import {isActive, refreshTimes} from './format.js';
import {mountLogin} from './views/login.js';
import {mountSyncs} from './views/syncs.js';
import {mountHistory} from './views/history.js';
import {mountRun} from './views/run.js';
import {mountInsights} from './views/insights.js';

const root = document.getElementById('app');
let app = null; // the logged-in page: {state, notes, events, main, view, route, ...}

const ROUTES = [
  {name: 'syncs', re: /^\/syncs\/?$/, title: 'Syncs', mount: (el, a) => mountSyncs(el, a)},
  {name: 'history', re: /^\/history\/?$/, title: 'History', mount: (el, a, p) => mountHistory(el, a, p)},
  {name: 'run', re: /^\/runs\/(\d+)\/?$/, title: 'Run', mount: (el, a, p, m) => mountRun(el, a, p, Number(m[1]))},
  {name: 'insights', re: /^\/insights\/?$/, title: 'Insights', mount: (el, a) => mountInsights(el, a)},
];

function parseHash() {
  let raw;
  try {
    raw = decodeURI(location.hash.replace(/^#/, '')) || '/syncs';
  } catch (e) {
    raw = '/syncs'; // a malformed %-escape
  }
  const i = raw.indexOf('?');
  const path = i < 0 ? raw : raw.slice(0, i);
  return {path, params: new URLSearchParams(i < 0 ? '' : location.hash.slice(location.hash.indexOf('?') + 1))};
}

// ---- login and logout ----

async function boot() {
  setUnauthorizedHandler(() => sessionEnded());
  document.addEventListener('click', e => {
    const a = e.target.closest('a.skip-link');
    if (a) {
      e.preventDefault();
      const main = document.getElementById('main');
      if (main) main.focus();
    }
  });
  setInterval(() => refreshTimes(), 15000);
  try {
    const me = await api.get('/api/me');
    setCsrf(me.csrf_token);
    start(me.user, me.auth);
  } catch (e) {
    if (e.status === 401) showLogin();
    else showFatal(e);
  }
}

function showLogin(notice) {
  stop();
  document.title = 'Log in · Ferry';
  mountLogin(root, answer => {
    setCsrf(answer.csrf_token);
    start(answer.user);
  }, notice);
}

function showFatal(err) {
  replace(root, h('main', {class: 'login', id: 'main', tabindex: '-1'},
    h('div', {class: 'login-card'},
      h('div', {class: 'brand brand--large'}, h('span', {class: 'logo', 'aria-hidden': 'true'}), 'Ferry'),
      errorBox(err, 'Ferry could not be reached'),
      h('button', {type: 'button', class: 'btn btn--primary', onclick: () => location.reload()}, 'Try again'))));
}

function sessionEnded() {
  if (!app) return;
  showLogin('Your session has ended. Log in again to continue.');
}

async function logout() {
  try {
    await api.post('/api/logout');
  } catch (e) {
    // ended already: the login is the right place either way
  }
  setCsrf(null);
  showLogin('You have logged out.');
}

function stop() {
  if (!app) return;
  if (app.view && app.view.unmount) app.view.unmount();
  app.events.close();
  window.removeEventListener('hashchange', app.onHash);
  clearTimeout(app.syncsTimer);
  app = null;
}

// ---- the logged-in page ----

/** Shows the page for user, signed in by auth ("session", or "header" when a proxy in front
 * of Ferry named the user: signing out is then the proxy's, and the page offers no Log out). */
async function start(user, auth = 'session') {
  stop();
  const main = h('main', {id: 'main', class: 'main', tabindex: '-1'});
  const noteBox = h('section', {class: 'notifications is-empty', 'data-testid': 'notifications',
    'aria-live': 'polite', 'aria-label': 'Notifications'});
  const live = h('span', {class: 'live live--connecting', 'data-testid': 'live-status', role: 'status'},
    h('span', {class: 'live-dot', 'aria-hidden': 'true'}), h('span', {class: 'live-text'}, 'Connecting...'));
  const prefs = new Prefs(user.name);
  const navLink = (name, label) => h('a', {href: `#/${name}`, 'data-testid': `nav-${name}`, class: 'nav-link'}, label);
  const nav = h('nav', {class: 'nav', 'aria-label': 'Main'},
    navLink('syncs', 'Syncs'), navLink('history', 'History'), navLink('insights', 'Insights'));
  const header = h('header', {class: 'topbar'},
    h('div', {class: 'topbar-inner'},
      h('a', {class: 'brand', href: '#/syncs'}, h('span', {class: 'logo', 'aria-hidden': 'true'}), 'Ferry'),
      nav,
      h('div', {class: 'user'},
        live,
        h('span', {class: 'whoami', 'data-testid': 'whoami'},
          h('span', {class: 'whoami-name'}, user.name), ' · ',
          h('span', {class: `role role--${user.role}`}, user.role)),
        prefsControl(prefs),
        auth === 'header' ? null
          : h('button', {type: 'button', class: 'btn btn--ghost btn--small', 'data-testid': 'logout', onclick: logout},
            'Log out'))));
  const configNotice = h('div', {class: 'config-notice', 'data-testid': 'config-notice', role: 'status',
    'aria-live': 'polite', hidden: true});
  replace(root, header, h('div', {class: 'content'}, configNotice, noteBox, main));

  const state = new State(user);
  const notes = new Notifications(noteBox, state, id => api.get(`/api/runs/${id}`));
  notes.setAutodismiss(prefs.autodismiss);
  prefs.addEventListener('change', () => notes.setAutodismiss(prefs.autodismiss));
  // live: the event stream is open; opened: how many times it opened (actions.js compares
  // them around a request to know whether the stream could have missed the run's events).
  const a = app = {state, notes, main, nav, view: null, route: null, events: null, syncsTimer: null,
    live: false, opened: 0};

  const ingest = (type, run) => {
    if (app !== a) return;
    state.applyRun(run);
    const fresh = state.latest(run);
    notes.onRun(fresh);
    if (a.view && a.view.onRun) a.view.onRun(type, fresh);
    if (type === 'run.finished') refreshSyncsSoon();
  };
  a.ingest = ingest;
  a.checkRun = id => checkRun(id);

  async function refreshSyncs() {
    try {
      const data = await api.get('/api/syncs');
      if (app !== a) return;
      const toCheck = state.setSyncs(data.syncs);
      for (const s of state.syncs) if (s.active_run) notes.onRun(s.active_run);
      for (const id of toCheck) checkRun(id);
    } catch (e) {
      // the cards keep what they have; a 401 is handled by api.js
    }
  }
  function refreshSyncsSoon() {
    clearTimeout(a.syncsTimer);
    a.syncsTimer = setTimeout(refreshSyncs, 250);
  }
  async function checkRun(id) {
    try {
      const run = await api.get(`/api/runs/${id}`);
      ingest(isActive(run) ? 'run.progress' : 'run.finished', run);
    } catch (e) {
      // gone: nothing to show
    }
  }

  // The stream first, so nothing that happens while the lists load is missed.
  a.events = connectEvents({
    onRun: ingest,
    onActivity: entry => {
      if (app === a && a.view && a.view.onActivity) a.view.onActivity(entry);
    },
    onConfig: change => {
      if (app !== a) return;
      showConfigNotice(configNotice, change);
      refreshSyncs(); // the cards of added syncs appear, those of removed ones go
    },
    onStatus: s => {
      live.className = `live live--${s}`;
      setText(live.lastChild, s === 'live' ? 'Live' : s === 'connecting' ? 'Reconnecting...' : 'Offline');
      live.title = s === 'live' ? 'Updates arrive as they happen' : 'Live updates are paused; retrying';
      a.live = s === 'live';
      if (a.live && ++a.opened === 1) {
        // The first stream carries only what happens from its start: a run that ended while
        // it connected (a click's run of a few rows) would stay active here.
        for (const run of state.runs.values()) if (isActive(run)) checkRun(run.id);
      }
    },
    onResync: () => {
      refreshSyncs();
      for (const id of notes.items.keys()) {
        const r = state.runs.get(id);
        if (!r || isActive(r)) checkRun(id);
      }
      if (a.view && a.view.update && a.route) a.view.update(parseHash().params);
    },
    checkSession: async () => {
      await api.get('/api/me'); // a 401 ends the page through api.js
      return app === a;
    },
  });
  setText(live.lastChild, 'Connecting...');

  try {
    const data = await api.get('/api/syncs');
    if (app !== a) return;
    state.setSyncs(data.syncs);
  } catch (e) {
    if (app !== a) return;
    replace(main, errorBox(e, 'Could not load the syncs'));
  }
  notes.restore(state.syncs.map(s => s.active_run).filter(Boolean));

  a.onHash = () => route(a);
  window.addEventListener('hashchange', a.onHash);
  route(a, true);
}

/** Says what a reload of Ferry's config changed: "Config reloaded: added X; removed Y". */
function showConfigNotice(el, change) {
  const parts = [];
  if (change.added && change.added.length) parts.push(`added ${change.added.join(', ')}`);
  if (change.removed && change.removed.length) parts.push(`removed ${change.removed.join(', ')}`);
  const text = `Config reloaded${parts.length ? `: ${parts.join('; ')}` : ''}`;
  replace(el, h('p', {class: 'alert alert--info'}, h('span', {'data-testid': 'config-notice-text'}, text),
    h('button', {type: 'button', class: 'btn btn--ghost btn--small', 'aria-label': 'Dismiss',
      onclick: () => { el.hidden = true; }}, 'Dismiss')));
  el.hidden = false;
}

function route(a, first = false) {
  if (app !== a) return;
  const {path, params} = parseHash();
  let match = null, r = null;
  for (const cand of ROUTES) {
    match = cand.re.exec(path);
    if (match) {
      r = cand;
      break;
    }
  }
  if (!r) {
    history.replaceState(null, '', '#/syncs');
    return route(a, first);
  }
  for (const link of a.nav.querySelectorAll('a')) {
    const on = link.dataset.testid === `nav-${r.name === 'run' ? 'history' : r.name}`;
    if (on) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
  }
  const key = r.name === 'run' ? `run:${match[1]}` : r.name;
  document.title = `${r.name === 'run' ? `Run #${match[1]}` : r.title} · Ferry`;
  if (a.route === key && a.view && a.view.update) {
    a.view.update(params);
    return;
  }
  if (a.view && a.view.unmount) a.view.unmount();
  a.route = key;
  a.view = r.mount(a.main, a, params, match);
  if (!first) {
    const h1 = a.main.querySelector('h1');
    if (h1) h1.focus({preventScroll: true});
    window.scrollTo(0, 0);
  }
}

boot();
