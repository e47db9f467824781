// api.js - the page's calls to Ferry's JSON API: same-origin fetch with the session cookie,
// the CSRF token on every change, one place that notices an ended session (401).
//
// Paths are written from Ferry's root ('/api/runs') and requested relative to the page, so
// the page works where base_path puts it ('/ferry/' asks '/ferry/api/runs').

let csrfToken = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, code, message, {retryAfter = null, body = null} = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

/** The URL of a path from Ferry's root ('/api/x'), relative to the page ('api/x'). */
export function local(path) {
  return path.replace(/^\/+/, '');
}

export function setCsrf(token) {
  csrfToken = token || null;
}

/** fn() is called once per 401 (other than a failed login): the session has ended. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/** ?a=1&b=2 from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function send(method, path, {params, body, retried = false} = {}) {
  const headers = {Accept: 'application/json'};
  const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let resp;
  try {
    resp = await fetch(local(path) + query(params), init);
  } catch (e) {
    throw new ApiError(0, 'network', 'Ferry cannot be reached. Check your connection and try again.');
  }
  let data = null;
  const type = resp.headers.get('Content-Type') || '';
  if (type.includes('application/json')) {
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
  }
  if (resp.ok) return {status: resp.status, data};
  const code = data && data.error ? data.error.code : '';
  const message = data && data.error && data.error.message
    ? data.error.message
    : `Ferry answered ${resp.status} ${resp.statusText}`.trim();
  const retry = resp.headers.get('Retry-After');
  const err = new ApiError(resp.status, code, message,
    {retryAfter: retry ? Number(retry) : null, body: data});
  if (resp.status === 401 && path !== '/api/login') {
    csrfToken = null;
    onUnauthorized(err);
  } else if (resp.status === 403 && code === 'csrf' && !retried) {
    // The token changed (a login in another tab): read the current one and try once more.
    try {
      const me = await send('GET', '/api/me');
      setCsrf(me.data.csrf_token);
      return send(method, path, {params, body, retried: true});
    } catch (e) {
      throw err;
    }
  }
  throw err;
}

export const api = {
  get: (path, params) => send('GET', path, {params}).then(r => r.data),
  /** Resolves to {status, data}: some routes answer differently with 200 and 202. */
  post: (path, body) => send('POST', path, {body}),
  login: (user, password) => send('POST', '/api/login', {body: {user, password}}).then(r => r.data),
};
