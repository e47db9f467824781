// actions.js - what a user can do to a sync: start a run, cancel one, revert one.
import {api} from './api.js';
import {isActive} from './format.js';

/**
 * Starts a run of sync (optionally for a tenant; full: an incremental sync fetches everything
 * this once; preview: the run is held for review whatever it would do). Resolves to {run,
 * message, already} on 202/200, {held} (the sync's held run, from a 409: it must be decided
 * before another run), or {error} (an ApiError: 429 cooldown, 403...).
 */
export async function startSync(app, syncName, tenant, {full = false, preview = false} = {}) {
  try {
    const asked = {...(tenant ? {tenant} : {}), ...(full ? {full: true} : {}), ...(preview ? {preview: true} : {})};
    const body = Object.keys(asked).length ? asked : undefined;
    const {live, opened} = app;
    const {status, data} = await api.post(`/api/syncs/${encodeURIComponent(syncName)}/runs`, body);
    const message = data.message;
    const run = {...data};
    delete run.message;
    app.state.applyRun(run);
    app.notes.show(app.state.latest(run));
    // A stream that was not open all along may have missed the run's events (a run of a few
    // rows ends at once): read the run.
    if ((!live || app.opened !== opened) && isActive(app.state.latest(run)) && app.checkRun) app.checkRun(run.id);
    return {run, message, already: status === 200};
  } catch (error) {
    const held = error.status === 409 && error.code === 'held' && error.body ? error.body.run : null;
    if (held && held.id) {
      app.state.applyRun(held);
      return {held: app.state.latest(held)};
    }
    return {error};
  }
}

/**
 * Approves (approve true) or rejects held run id with comment. Resolves to {run, message}
 * (approved: queued again, followed by the caller through events; rejected: status
 * "rejected"), or {error} (403: not allowed, 409: not held any more, 404).
 */
export async function decideRun(app, id, approve, comment) {
  try {
    const body = comment ? {comment} : {};
    const {data} = await api.post(`/api/runs/${id}/${approve ? 'approve' : 'reject'}`, body);
    const message = data.message;
    const run = {...data};
    delete run.message;
    app.state.applyRun(run);
    return {run: app.state.latest(run), message};
  } catch (error) {
    return {error};
  }
}

/** Cancels run id: {message} ("Cancelling...", or the cancelled run's message), or {error}. */
export async function cancelRun(app, id) {
  try {
    const {data} = await api.post(`/api/runs/${id}/cancel`);
    if (data && data.sync) {
      app.state.applyRun(data);
      app.notes.show(app.state.latest(data));
    }
    return {message: data && data.message ? data.message : 'Cancelled.'};
  } catch (error) {
    return {error};
  }
}

/**
 * Reverts succeeded run id as a new run (docs/sync.md, "Reverting a run"): {run} (the revert,
 * succeeded or failed), or {error} (409 refused: the message says why).
 */
export async function revertRun(app, id, {force = false, comment = ''} = {}) {
  try {
    const body = {...(force ? {force: true} : {}), ...(comment ? {comment} : {})};
    const {data} = await api.post(`/api/runs/${id}/revert`, body);
    app.state.applyRun(data);
    return {run: data};
  } catch (error) {
    return {error};
  }
}

/** What the page knows of a sync's tenants: null (no tenants) or {options: [...]}. */
export function tenantInfo(sync) {
  if (!sync) return null;
  if (Array.isArray(sync.tenants)) return {options: sync.tenants.map(String)};
  if (sync.tenant === true || sync.tenant_required === true || sync.tenanted === true) {
    return {options: []};
  }
  if (sync.tenant && typeof sync.tenant === 'object') {
    return {options: Array.isArray(sync.tenant.values) ? sync.tenant.values.map(String) : []};
  }
  return null;
}
