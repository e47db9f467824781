// actions.js - what a user can do to a sync: start a run, cancel one, revert one.
import {api} from './api.js';
import {isActive} from './format.js';

/**
 * Starts a run of sync (optionally for a tenant; full: an incremental sync fetches everything
 * this once). Resolves to {run, message, already} on 202/200, or {error} (an ApiError: 429
 * cooldown, 403...).
 */
export async function startSync(app, syncName, tenant, {full = false} = {}) {
  try {
    const body = tenant || full ? {...(tenant ? {tenant} : {}), ...(full ? {full: true} : {})} : undefined;
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
