// events.js - the live feed: one EventSource on api/events, relative to the page (the session
// cookie goes along).
//
// The browser reconnects an EventSource by itself after a network error and sends
// Last-Event-ID, so nothing is missed. When the server refuses the stream (401 after the
// session ended, a restart that answers 503...) the EventSource closes for good: we then ask
// /api/me (a 401 there sends the page back to the login) and open a new one with a backoff,
// and report "resync" so the page reloads its state (a new EventSource starts from now).

const TYPES = ['run.queued', 'run.started', 'run.progress', 'run.finished'];

/**
 * connectEvents({onRun(type, run), onActivity(entry), onConfig({syncs, added, removed}),
 *   onStatus('live'|'connecting'|'offline'), onResync(), checkSession()})
 * returns {close()}.
 */
export function connectEvents(handlers) {
  let es = null;
  let closed = false;
  let timer = null;
  let failures = 0;
  let everOpen = false;
  let lostSinceOpen = false;

  const status = s => handlers.onStatus && handlers.onStatus(s);

  function open() {
    if (closed) return;
    status(everOpen ? 'connecting' : 'connecting');
    es = new EventSource('api/events'); // relative: under base_path too
    es.onopen = () => {
      failures = 0;
      status('live');
      if (everOpen && lostSinceOpen && handlers.onResync) handlers.onResync();
      everOpen = true;
      lostSinceOpen = false;
    };
    es.onerror = () => {
      if (closed) return;
      lostSinceOpen = true;
      if (es.readyState === EventSource.CLOSED) {
        status('offline');
        es = null;
        retryLater();
      } else {
        status('connecting'); // the browser retries itself, with Last-Event-ID
      }
    };
    // One entry of a run's activity log: {id (the run's), sync, tenant, n, at, kind, text}.
    es.addEventListener('run.activity', ev => {
      let entry;
      try {
        entry = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (handlers.onActivity) handlers.onActivity(entry);
    });
    // Ferry reloaded its config: {syncs, added, removed} (names of syncs).
    es.addEventListener('config.reloaded', ev => {
      let change;
      try {
        change = JSON.parse(ev.data);
      } catch (e) {
        return;
      }
      if (handlers.onConfig) handlers.onConfig(change);
    });
    for (const type of TYPES) {
      es.addEventListener(type, ev => {
        let run;
        try {
          run = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        handlers.onRun(type, run);
      });
    }
  }

  async function retryLater() {
    failures++;
    const wait = Math.min(30000, 1000 * 2 ** Math.min(failures, 5));
    try {
      if (handlers.checkSession && !(await handlers.checkSession())) return; // logged out
    } catch (e) {
      // Ferry unreachable: keep trying
    }
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(open, wait);
  }

  // A page hidden for a long time may have missed more than Ferry's buffer: resync on return.
  const onVisible = () => {
    if (document.visibilityState === 'visible' && !closed && es === null) {
      clearTimeout(timer);
      open();
    }
  };
  document.addEventListener('visibilitychange', onVisible);

  open();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
      if (es) es.close();
      es = null;
    },
  };
}
