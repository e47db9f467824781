// state.js - what the page knows about syncs and runs, kept in step with the event stream.
//
// Answers and events can arrive out of order (the POST that queued a run may answer after
// the run already finished; a list fetched before an event may land after it), so every run
// update goes through accept(): a run never goes back from finished to active, nor from a
// later progress figure to an earlier one.
//
// A sync with tenants runs per tenant, several at once: besides the sync's active_run and
// latest_run (any tenant's), sync.tenant_runs (a Map, tenant -> {active, latest}) keeps each
// tenant's own, from events, answers and the run list the syncs view loads (setTenantRuns).
import {isActive} from './format.js';

function rank(run) {
  if (run.status === 'queued') return 0;
  if (run.status === 'running') return 1;
  return 2;
}

export class State extends EventTarget {
  constructor(me) {
    super();
    this.me = me; // {name, role}
    this.syncs = []; // as GET /api/syncs, in the config's order
    this.byName = new Map();
    this.runs = new Map(); // id -> newest run object seen
  }

  get canOperate() {
    return this.me.role === 'operator' || this.me.role === 'admin';
  }

  titleOf(syncName) {
    const s = this.byName.get(syncName);
    return s ? s.title || s.name : syncName;
  }

  /** Records run if it is not older than what we know; returns whether it was newer. */
  accept(run) {
    const prev = this.runs.get(run.id);
    if (prev) {
      const a = rank(run), b = rank(prev);
      // An approved held run is queued again under its id: the one way back to active.
      const approved = prev.status === 'held' && run.decision === 'approved' && prev.decision !== 'approved';
      if (a < b && !approved) return false;
      if (a === b && a < 2 && (run.processed || 0) < (prev.processed || 0)) return false;
      if (a === b && a === 1 && (run.percent || 0) < (prev.percent || 0)) return false;
    }
    this.runs.set(run.id, run);
    if (this.runs.size > 1000) {
      const oldest = Math.min(...this.runs.keys());
      this.runs.delete(oldest);
    }
    return true;
  }

  /** The freshest known version of run (itself when nothing newer is known). */
  latest(run) {
    const known = this.runs.get(run.id);
    return known && rank(known) >= rank(run) ? known : run;
  }

  /** Applies a run update (event or answer) to its sync; emits "sync" when it changed. */
  applyRun(run) {
    if (!this.accept(run)) return false;
    const sync = this.byName.get(run.sync);
    if (sync) {
      this.noteTenantRun(sync, run);
      if (isActive(run)) {
        if (!sync.active_run || sync.active_run.id <= run.id) sync.active_run = run;
      } else {
        if (sync.active_run && sync.active_run.id === run.id) sync.active_run = null;
        if (!sync.latest_run || sync.latest_run.id <= run.id) sync.latest_run = run;
      }
      this.emit('sync', {name: sync.name});
    }
    return true;
  }

  /** Files run (the freshest known) under its tenant in sync.tenant_runs. */
  noteTenantRun(sync, run) {
    if (!sync.tenant || run.tenant === null || run.tenant === undefined) return;
    if (!sync.tenant_runs) sync.tenant_runs = new Map();
    let t = sync.tenant_runs.get(run.tenant);
    if (!t) {
      t = {active: null, latest: null};
      sync.tenant_runs.set(run.tenant, t);
    }
    if (isActive(run)) {
      if (!t.active || t.active.id <= run.id) t.active = run;
    } else {
      if (t.active && t.active.id === run.id) t.active = null;
      if (!t.latest || t.latest.id <= run.id) t.latest = run;
    }
  }

  /** Takes GET /api/runs?sync=NAME (newest first) for a sync with tenants; emits "sync". */
  setTenantRuns(name, runs) {
    const sync = this.byName.get(name);
    if (!sync) return;
    for (const run of [...runs].reverse()) {
      this.accept(run);
      this.noteTenantRun(sync, this.latest(run));
    }
    this.emit('sync', {name});
  }

  /**
   * Takes a fresh GET /api/syncs answer. Returns the ids of active runs kept from earlier
   * knowledge that the answer does not show (the caller checks them with GET /api/runs/ID).
   */
  setSyncs(list) {
    const toCheck = [];
    for (const s of list) {
      const old = this.byName.get(s.name);
      if (old && old.tenant_runs) s.tenant_runs = old.tenant_runs;
      if (s.latest_run) {
        this.accept(s.latest_run);
        s.latest_run = this.latest(s.latest_run);
      }
      if (s.active_run) {
        this.accept(s.active_run);
        const fresh = this.latest(s.active_run);
        if (isActive(fresh)) {
          s.active_run = fresh;
        } else {
          s.active_run = null;
          if (!s.latest_run || s.latest_run.id < fresh.id) s.latest_run = fresh;
        }
      } else if (old && old.active_run) {
        const kept = this.latest(old.active_run);
        if (isActive(kept) && (!s.latest_run || s.latest_run.id < kept.id)) {
          s.active_run = kept; // queued after the list was read, or finished unseen: check
          toCheck.push(kept.id);
        }
      }
      for (const run of [s.latest_run, s.active_run]) if (run) this.noteTenantRun(s, this.latest(run));
    }
    this.syncs = list;
    this.byName = new Map(list.map(s => [s.name, s]));
    this.emit('syncs', {});
    return toCheck;
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, {detail}));
  }
}
