// harness.mjs - shared fixtures for Ferry's browser tests (tests/browser/test_*.mjs).
//
// Each test gets an Env (browserTest() makes it and closes it): a temporary directory for
// its ferry.yaml, CSV files and SQLite database; users and API tokens made with the ferry
// CLI; `ferry serve --listen 127.0.0.1:0` with the port read from its "Ferry is listening
// on" line; loopback HTTP servers for slow CSV sources (a body dripped in bounded pieces, so
// a run lasts long enough to watch) and for host pages of the embeddable component; and
// pages in Debian's chromium, driven by playwright-core, a new browser context per page
// group. Every page's console errors, uncaught exceptions, Content-Security-Policy
// violations and 5xx answers from Ferry are collected and fail the test. At the end the
// pages close, ferry gets SIGINT and must exit 0 without a sanitizer report, the loopback
// servers stop and the directory is removed.
//
// Waits are bounded: Playwright's own (with explicit timeouts) or until(), which polls a
// condition every 50 ms up to a deadline. No fixed sleeps.
//
// Environment: FERRY_BIN (the ferry binary; set by CTest), FERRY_SCREENSHOTS (where
// screenshots go; default a folder in the system's temporary directory), FERRY_CHROMIUM (the
// browser; default /usr/bin/chromium).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

let chromium;
try {
    ({ chromium } = await import('playwright-core'));
} catch (e) {
    throw new Error('playwright-core is not installed in tests/browser/node_modules: run ' +
                    '`make deps-browser` (npm ci --prefix tests/browser) first (' + e.message + ')');
}

export { assert };
export const FERRY_BIN = process.env.FERRY_BIN || '';
export const CHROMIUM = process.env.FERRY_CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = process.env.FERRY_SCREENSHOTS || path.join(os.tmpdir(), 'ferry-screenshots');

// Upper bounds. Every wait returns as soon as its condition holds; these only bound a failure.
export const WAIT = 15000;        // an element or state the page should reach
export const RUN_WAIT = 30000;    // a run to end (slow sources take a few seconds)
const CLI_TIMEOUT = 30000;        // one ferry CLI command
const STOP_TIMEOUT = 15000;       // ferry serve's exit after SIGINT

const LISTENING = /^Ferry is listening on http:\/\/127\.0\.0\.1:(\d+)\/ \(Ctrl-C stops it\)$/m;
const SANITIZER_MARKS = ['AddressSanitizer', 'LeakSanitizer', 'UndefinedBehaviorSanitizer',
                         'ThreadSanitizer', 'runtime error:'];
export const TERMINAL = ['succeeded', 'failed', 'cancelled', 'interrupted'];
const TOKEN_RE = /fy_[A-Za-z0-9_-]+/g;

export const maskTokens = (s) => String(s).replace(TOKEN_RE, 'fy_***');

// ---- waiting ----

/** Polls fn() every interval ms until it returns a truthy value (returned), or throws after
 * timeout ms naming what was awaited, the last value seen (describe(value)) or the last
 * error fn threw. */
export async function until(what, fn, { timeout = WAIT, interval = 50, describe } = {}) {
    const deadline = Date.now() + timeout;
    let last, lastErr;
    for (;;) {
        try {
            last = await fn();
            lastErr = undefined;
            if (last) return last;
        } catch (e) {
            lastErr = e;
        }
        if (Date.now() >= deadline) {
            let msg = `timed out after ${timeout} ms waiting for ${what}`;
            if (lastErr) msg += `; last error: ${lastErr.message.split('\n')[0]}`;
            else if (describe) msg += `; last seen: ${await describe(last)}`;
            throw new Error(msg);
        }
        await sleep(interval);
    }
}

/** Waits until the locator's text (innerText, whitespace collapsed) matches re (a RegExp or
 * a substring); returns the text. */
export async function waitText(locator, re, opts = {}) {
    let text = '';
    const match = (s) => (re instanceof RegExp ? re.test(s) : s.includes(re));
    await until(`${locator} to show ${re}`, async () => {
        text = (await locator.innerText({ timeout: 1000 })).replace(/\s+/g, ' ').trim();
        return match(text);
    }, { ...opts, describe: () => JSON.stringify(text) });
    return text;
}

/** Waits until locator.count() satisfies pred (a number: equality); returns the count. */
export async function waitCount(locator, pred, opts = {}) {
    const ok = typeof pred === 'number' ? (n) => n === pred : pred;
    let n = -1;
    await until(`the count of ${locator} to be ${typeof pred === 'number' ? pred : pred.toString()}`,
        async () => ok((n = await locator.count())), { ...opts, describe: () => String(n) });
    return n;
}

/** Waits until the locator's attribute satisfies pred (a string or null: equality);
 * returns its value. */
export async function waitAttr(locator, name, pred, opts = {}) {
    const ok = typeof pred === 'function' ? pred : (v) => v === pred;
    let v;
    await until(`${name} of ${locator} to be ${typeof pred === 'function' ? pred.toString() : JSON.stringify(pred)}`,
        async () => ok((v = await locator.getAttribute(name, { timeout: 1000 }))),
        { ...opts, describe: () => JSON.stringify(v) });
    return v;
}

/** Reads a progress bar's aria-valuenow (a number) every 40 ms until stop() is true or the
 * timeout passes; returns the distinct values in the order seen. A bar that is not in the
 * DOM at a moment is skipped. */
export async function sampleProgress(bar, stop, { timeout = RUN_WAIT } = {}) {
    const seen = [];
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
        if (await stop()) break;
        if ((await bar.count()) > 0) {
            const raw = await bar.first().getAttribute('aria-valuenow', { timeout: 500 }).catch(() => null);
            if (raw !== null && raw !== '') {
                const v = Number(raw);
                if (seen.length === 0 || seen[seen.length - 1] !== v) seen.push(v);
            }
        }
        await sleep(40);
    }
    return seen;
}

// ---- CSV and config ----

export function csvText(header, rows) {
    const cell = (v) => {
        v = v === null || v === undefined ? '' : String(v);
        return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v;
    };
    return [header, ...rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/** Parses RFC 4180 CSV into arrays of strings. */
export function parseCsv(text) {
    const rows = [];
    let row = [], cell = '', quoted = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (quoted) {
            if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
            else if (c === '"') quoted = false;
            else cell += c;
        } else if (c === '"') quoted = true;
        else if (c === ',') { row.push(cell); cell = ''; }
        else if (c === '\n' || c === '\r') {
            if (c === '\r' && text[i + 1] === '\n') i++;
            row.push(cell); rows.push(row); row = []; cell = '';
        } else cell += c;
    }
    if (cell !== '' || row.length) { row.push(cell); rows.push(row); }
    return rows;
}

/** CSV text as objects keyed by the header row. */
export function csvObjects(text) {
    const [header, ...rows] = parseCsv(text);
    return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

export const PEOPLE_HEADER = ['id', 'name', 'email'];

/** n rows for the default id/name/email sync. */
export function peopleRows(n, start = 0) {
    const rows = [];
    for (let i = start; i < start + n; i++)
        rows.push([`P${String(i).padStart(7, '0')}`, `Person ${i}`, `p${i}@example.com`]);
    return rows;
}

/** One sync as an object. fields default to id/name/email (email typed). */
export function syncConfig(url, { table = 'people', key = 'id', fields, title, noun, onMissing,
                                  skip, extra } = {}) {
    const sync = {
        source: { url },
        target: { table, key: Array.isArray(key) ? key : [key] },
        fields: fields || { id: {}, name: {}, email: { type: 'email' } },
    };
    if (onMissing) sync.target.on_missing = onMissing;
    if (title) sync.title = title;
    if (noun) sync.noun = noun;
    if (skip) sync.skip = skip;
    return Object.assign(sync, extra || {});
}

export function summary(n, { created = 0, updated = 0, unchanged = 0, skipped = 0, failed = 0,
                             noun = 'people' } = {}) {
    return `Processed ${n} ${noun}: ${created} created, ${updated} updated, ${unchanged} ` +
           `unchanged, ${skipped} skipped, ${failed} failed.`;
}

// ---- the loopback HTTP server (CSV sources, host pages) ----

/** A server on 127.0.0.1 with a port the OS picks. route(path, {status, body, type, headers,
 * dripBytes, dripPause}) sets what a path answers: body (string or Buffer) at once, or with
 * dripBytes > 0 dripped dripBytes at a time with dripPause ms after each piece (with its
 * Content-Length, so ferry knows the percent; bounded by the body's size). Unknown paths
 * answer 404. stop() ends every connection. */
export class Loopback {
    static async start() {
        const lb = new Loopback();
        await new Promise((resolve, reject) => {
            lb.server.once('error', reject);
            lb.server.listen(0, '127.0.0.1', resolve);
        });
        lb.port = lb.server.address().port;
        return lb;
    }

    constructor() {
        this.routes = new Map();
        this.requests = [];
        this.stopping = false;
        this.server = http.createServer((req, res) => this.handle(req, res));
    }

    url(p = '/') { return `http://127.0.0.1:${this.port}${p}`; }

    /** spec: status, type, body, headers, dripBytes and dripPause, hold (a promise the
     *  answer waits for). */
    route(p, spec) {
        this.routes.set(p, { status: 200, type: 'text/csv; charset=utf-8', ...spec });
        return this.url(p);
    }

    /** A CSV route whose rows arrive in about seconds s (40 pieces). */
    slowCsv(p, header, rows, seconds = 4) {
        const body = Buffer.from(csvText(header, rows));
        const pieces = 40;
        return this.route(p, { body, dripBytes: Math.ceil(body.length / pieces), dripPause: (seconds * 1000) / pieces });
    }

    csv(p, header, rows) { return this.route(p, { body: csvText(header, rows) }); }

    async handle(req, res) {
        const p = req.url.split('?')[0];
        this.requests.push({ path: req.url, headers: req.headers });
        const r = this.routes.get(p);
        res.on('error', () => {});
        if (!r) {
            res.writeHead(404, { 'Content-Type': 'text/plain' });
            res.end('no such route\n');
            return;
        }
        if (r.hold) await r.hold; // a promise the test resolves: the answer waits for it
        const body = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body || '');
        res.writeHead(r.status, { 'Content-Type': r.type, 'Content-Length': body.length,
                                  'Cache-Control': 'no-store', ...(r.headers || {}) });
        if (!r.dripBytes) {
            res.end(body);
            return;
        }
        for (let pos = 0; pos < body.length && !this.stopping && !res.destroyed; pos += r.dripBytes) {
            res.write(body.subarray(pos, pos + r.dripBytes));
            await sleep(r.dripPause);
        }
        res.end();
    }

    async stop() {
        this.stopping = true;
        const closed = new Promise((resolve) => this.server.close(resolve));
        this.server.closeAllConnections();
        await closed;
    }
}

// ---- ferry ----

function ferryEnv() {
    const env = { ...process.env, USER: 'tester', LC_ALL: 'C' };
    delete env.FERRY_CONFIG;
    return env;
}

/** A running `ferry serve`: url(path), api(method, path, {token, body, headers}) and stop(). */
export class FerryServer {
    constructor(proc, port, token, stderr) {
        this.proc = proc;
        this.port = port;
        this.token = token;
        this._stderr = stderr;
        this.exited = once(proc, 'exit');
    }

    get origin() { return `http://127.0.0.1:${this.port}`; }
    url(p = '/') { return this.origin + p; }
    stderr() { return this._stderr.join(''); }
    running() { return this.proc.exitCode === null && this.proc.signalCode === null; }

    /** A request with the admin token (or token: another, or null for none); returns
     * {status, headers, text, json}. */
    async api(method, p, { token = this.token, body, headers = {} } = {}) {
        const h = { ...headers };
        if (token) h.Authorization = 'Bearer ' + token;
        if (body !== undefined) h['Content-Type'] = 'application/json';
        const r = await fetch(this.url(p), { method, headers: h,
                                             body: body === undefined ? undefined : JSON.stringify(body),
                                             signal: AbortSignal.timeout(10000) });
        const text = await r.text();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        return { status: r.status, headers: r.headers, text, json };
    }

    async getJson(p, opts) {
        const r = await this.api('GET', p, opts);
        assert.equal(r.status, 200, `GET ${p}: ${r.status} ${r.text.slice(0, 300)}`);
        return r.json;
    }

    async run(id) { return this.getJson(`/api/runs/${id}`); }

    /** POST a run of sync (with the admin token unless token says otherwise); returns the run. */
    async startRun(sync, { token, status = 202 } = {}) {
        const r = await this.api('POST', `/api/syncs/${sync}/runs`, token === undefined ? {} : { token });
        assert.equal(r.status, status, `POST a run of ${sync}: ${r.status} ${r.text.slice(0, 300)}`);
        return r.json;
    }

    /** Polls the run until pred(run) (default: it ended); returns it. */
    async waitRun(id, pred = (r) => TERMINAL.includes(r.status), { timeout = RUN_WAIT, what = 'to end' } = {}) {
        let last;
        return until(`run ${id} ${what}`, async () => {
            last = await this.run(id);
            return pred(last) ? last : null;
        }, { timeout, interval: 30, describe: () => JSON.stringify(last) });
    }

    /** Starts a run of sync and waits until it ends; returns it. */
    async runToEnd(sync, opts) { return this.waitRun((await this.startRun(sync, opts)).id); }

    /** SIGINT; ferry must exit 0 within STOP_TIMEOUT and print no sanitizer report. */
    async stop() {
        this.stopped = true;
        if (!this.running()) {
            assert.fail(`ferry serve had already exited (${this.proc.exitCode ?? this.proc.signalCode}); stderr:\n${this.stderr()}`);
        }
        this.proc.kill('SIGINT');
        let timer;
        const late = new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT, 'timeout'); });
        const got = await Promise.race([this.exited, late]);
        clearTimeout(timer);
        if (got === 'timeout') {
            this.proc.kill('SIGKILL');
            await this.exited;
            assert.fail(`ferry serve did not exit within ${STOP_TIMEOUT} ms of SIGINT; stderr:\n${this.stderr()}`);
        }
        const [code, signal] = got;
        const err = this.stderr();
        assert.equal(code, 0, `ferry serve exited with ${code ?? signal} after SIGINT; stderr:\n${err}`);
        for (const mark of SANITIZER_MARKS)
            assert.ok(!err.includes(mark), `ferry serve's stderr has a sanitizer report (${mark}):\n${err}`);
    }

    kill() {
        if (this.running()) this.proc.kill('SIGKILL');
    }
}

// ---- the browser ----

let browserPromise = null;

/** The file's one chromium (launched on first use, closed after the file's tests). */
export function browser() {
    if (!browserPromise) {
        browserPromise = chromium.launch({
            executablePath: CHROMIUM,
            args: ['--no-sandbox', '--disable-background-networking'],
            timeout: 60000,
        });
    }
    return browserPromise;
}

// Registered at import, so on the file's root: runs once all its tests are done.
after(async () => {
    if (browserPromise) await (await browserPromise).close();
});

function slug(s) { return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 80); }

// Console errors every test accepts: the browser's own line for an expected HTTP error.
// Before login the page asks GET /api/me (401: not logged in), an event stream ended by a
// logout is refused on reconnect (401), and the browser may ask for a favicon Ferry does not
// have (404).
const ALLOWED_CONSOLE = [
    { re: /Failed to load resource: the server responded with a status of 401/, url: /\/api\/(me|events)(\?|$)/ },
    { re: /Failed to load resource: the server responded with a status of 404/, url: /\/favicon\.ico$/ },
];

// ---- the per-test environment ----

export class Env {
    constructor(t) {
        this.t = t;
        this.name = t.name;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-bt-'));
        this.configPath = path.join(this.dir, 'ferry.yaml');
        this.problems = [];        // console errors, page errors, CSP violations, 5xx answers
        this.allowed = [...ALLOWED_CONSOLE];
        this.contexts = [];
        this.pages = [];
        this.servers = [];         // Loopback servers
        this.ferries = [];
        // A failure screenshot of an earlier run of this test would mislead.
        fs.mkdirSync(SCREENSHOTS, { recursive: true });
        for (const f of fs.readdirSync(SCREENSHOTS))
            if (f.startsWith(`FAILED-${slug(this.name)}-`)) fs.rmSync(path.join(SCREENSHOTS, f), { force: true });
    }

    path(name) { return path.join(this.dir, name); }

    write(name, content) {
        const p = this.path(name);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, content);
        return p;
    }

    writeCsv(name, header, rows) { return this.write(name, csvText(header, rows)); }

    /** Writes ferry.yaml: syncs (name -> syncConfig()) and any other top-level keys. JSON is
     * YAML, one key per line. */
    writeConfig(syncs, top = {}) {
        // The tests' sources are fake servers on loopback, which Ferry refuses by default.
        this.write('ferry.yaml', JSON.stringify({ database: 'sqlite:ferry.db', allow_private: true, ...top, syncs }, null, 2) + '\n');
        return this.configPath;
    }

    /** Runs the ferry CLI in the test's directory; returns {code, stdout, stderr}. */
    async cli(args, { input } = {}) {
        if (!FERRY_BIN || !fs.existsSync(FERRY_BIN))
            throw new Error('FERRY_BIN is not set to the ferry binary (run the browser tests through ctest)');
        const proc = spawn(FERRY_BIN, args, { cwd: this.dir, env: ferryEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '', stderr = '';
        proc.stdout.on('data', (d) => { stdout += d; });
        proc.stderr.on('data', (d) => { stderr += d; });
        proc.stdin.end(input ?? '');
        const timer = setTimeout(() => proc.kill('SIGKILL'), CLI_TIMEOUT);
        const [code, signal] = await once(proc, 'exit');
        clearTimeout(timer);
        if (signal) throw new Error(`ferry ${args.join(' ')} ended by ${signal} (${CLI_TIMEOUT} ms limit?); stderr:\n${stderr}`);
        return { code, stdout, stderr };
    }

    /** Adds a user with `ferry user add NAME --role ROLE --password-stdin`; returns
     * {name, role, password}. */
    async user(name, role, password = `pw-${name}-${Math.random().toString(36).slice(2, 12)}`) {
        const r = await this.cli(['user', 'add', name, '--role', role, '--password-stdin', '--config', this.configPath],
                                 { input: password + '\n' });
        assert.equal(r.code, 0, `ferry user add ${name} exited ${r.code}: ${r.stderr}`);
        return { name, role, password };
    }

    /** Makes an API token with `ferry token create --user USER --name LABEL`. */
    async token(user, label) {
        const r = await this.cli(['token', 'create', '--user', user, '--name', label, '--config', this.configPath]);
        const m = /^(fy_[A-Za-z0-9_-]+)$/m.exec(r.stdout);
        assert.ok(r.code === 0 && m, `ferry token create --user ${user} exited ${r.code} with no token: ${maskTokens(r.stderr)}`);
        return m[1];
    }

    /** A loopback HTTP server, stopped at the end of the test. */
    async loopback() {
        const lb = await Loopback.start();
        this.servers.push(lb);
        return lb;
    }

    /** Starts `ferry serve --listen 127.0.0.1:0 --config ferry.yaml` (after adding an admin
     * "tester" and an API token for it, unless there is one) and waits for /healthz. */
    async serve({ timeout = WAIT } = {}) {
        if (!this.adminToken) {
            this.admin = await this.user('tester', 'admin');
            this.adminToken = await this.token('tester', 'browser-tests');
        }
        const stderr = [];
        const proc = spawn(FERRY_BIN, ['serve', '--listen', '127.0.0.1:0', '--config', this.configPath],
                           { cwd: this.dir, env: ferryEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
        proc.stderr.setEncoding('utf8');
        proc.stderr.on('data', (d) => stderr.push(d));
        proc.stdout.setEncoding('utf8');
        let out = '';
        const port = await new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`ferry serve printed no 'listening' line within ${timeout} ms; stdout: ${JSON.stringify(out)}; stderr:\n${stderr.join('')}`)), timeout);
            proc.stdout.on('data', (d) => {
                out += d;
                const m = LISTENING.exec(out);
                if (m) { clearTimeout(timer); resolve(Number(m[1])); }
            });
            proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`ferry serve exited with ${code} before listening; stderr:\n${stderr.join('')}`)); });
        }).catch((e) => { proc.kill('SIGKILL'); throw e; });
        const srv = new FerryServer(proc, port, this.adminToken, stderr);
        this.ferries.push(srv);
        await until('GET /healthz to answer 200', async () => (await srv.api('GET', '/healthz', { token: null })).status === 200,
                    { timeout });
        return srv;
    }

    /** Console errors matching re (and, when given, whose source URL matches url) are
     * expected by this test. */
    allowConsole(re, url) { this.allowed.push({ re, url }); }

    problem(what) { this.problems.push(what); }

    /** A new browser context (options as Playwright's newContext) and a page in it, whose
     * errors are collected. ferry: the server whose 5xx answers count as problems. */
    async newPage({ ferry, ...options } = {}) {
        const b = await browser();
        const context = await b.newContext({ viewport: { width: 1280, height: 800 }, ...options });
        context.setDefaultTimeout(WAIT);
        this.contexts.push(context);
        await this.watchContext(context, ferry);
        return this.addPage(context, ferry);
    }

    /** Another page in an existing context. */
    async addPage(context, ferry) {
        const page = await context.newPage();
        const label = `page ${this.pages.length + 1}`;
        this.pages.push(page);
        page.on('console', (msg) => {
            if (msg.type() !== 'error') return;
            const url = msg.location()?.url || '';
            const text = msg.text();
            if (this.allowed.some((a) => a.re.test(text) && (!a.url || a.url.test(url)))) return;
            this.problem(`${label}: console error: ${text}${url ? ` (${url})` : ''}`);
        });
        page.on('pageerror', (err) => this.problem(`${label}: uncaught exception: ${err.stack || err.message}`));
        page.on('response', (r) => {
            if (r.status() >= 500 && ferry && r.url().startsWith(ferry.origin))
                this.problem(`${label}: ${r.request().method()} ${r.url()} answered ${r.status()}`);
        });
        return page;
    }

    async watchContext(context) {
        // CSP violations are console errors too; this also catches ones the console misses
        // (report-only, or in a worker).
        await context.exposeBinding('__ferryTestCsp', ({ page }, text) => {
            this.problem(`CSP violation on ${page?.url()}: ${text}`);
        });
        await context.addInitScript(() => {
            document.addEventListener('securitypolicyviolation', (e) => {
                window.__ferryTestCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} (${e.sourceFile}:${e.lineNumber})`);
            });
        });
    }

    /** Opens Ferry's page and logs in through the form; waits for the header's whoami. */
    async login(page, ferry, user, { hash = '' } = {}) {
        await page.goto(ferry.url('/' + hash));
        const form = page.locator('[data-testid="login-form"]');
        await form.waitFor({ state: 'visible' });
        await form.locator('input[name="user"]').fill(user.name);
        await form.locator('input[name="password"]').fill(user.password);
        await form.locator('button[type="submit"]').click();
        await waitText(page.locator('[data-testid="whoami"]'), user.name);
        return page;
    }

    /** A new context and page at Ferry, logged in as user. */
    async loggedIn(ferry, user, { hash, ...options } = {}) {
        const page = await this.newPage({ ferry, ...options });
        return this.login(page, ferry, user, { hash });
    }

    /** Saves a screenshot as SCREENSHOTS/NAME.png (the full page by default). */
    async shot(page, name, { fullPage = true } = {}) {
        fs.mkdirSync(SCREENSHOTS, { recursive: true });
        const file = path.join(SCREENSHOTS, `${name}.png`);
        await page.screenshot({ path: file, fullPage, timeout: WAIT });
        return file;
    }

    /** Ends everything; returns the problems found on the way (and on failure saves a
     * screenshot of each open page). */
    async close(failed) {
        const problems = [...this.problems];
        if (failed) {
            for (const [i, page] of this.pages.entries()) {
                if (page.isClosed()) continue;
                await this.shot(page, `FAILED-${slug(this.name)}-${i + 1}`).catch(() => {});
            }
        }
        for (const c of this.contexts) await c.close().catch(() => {});
        for (const f of this.ferries) {
            if (failed) { f.kill(); continue; }
            if (f.stopped) continue;
            try {
                await f.stop();
            } catch (e) {
                problems.push(e.message);
            }
        }
        for (const s of this.servers) await s.stop().catch(() => {});
        fs.rmSync(this.dir, { recursive: true, force: true });
        return problems;
    }
}

/** A test with an Env: fn(env, t). Fails on the test's own error or, after it passed, on
 * any problem the pages reported (console errors, uncaught exceptions, CSP violations, 5xx)
 * or ferry's exit. */
export function browserTest(name, opts, fn) {
    if (typeof opts === 'function') { fn = opts; opts = {}; }
    test(name, { timeout: 90000, ...opts }, async (t) => {
        const env = new Env(t);
        let error = null;
        try {
            await fn(env, t);
        } catch (e) {
            error = e;
        }
        const problems = await env.close(error !== null);
        if (error) {
            if (problems.length) error.message += '\nAlso reported by the pages:\n  ' + problems.join('\n  ');
            throw error;
        }
        if (problems.length)
            throw new Error('The pages reported problems:\n  ' + problems.join('\n  '));
    });
}

// ---- host pages of <ferry-sync> ----

/** A host application's page on another origin: loads Ferry's component and holds body (the
 * elements). window.ferryEvents collects the components' events as {type, target (the
 * element's id), id, tenant, status} (of the run in detail). */
export function componentHostPage(ferry, body) {
    return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Host app</title></head>
<body>
  <script>
    window.ferryEvents = [];
    for (const type of ['ferry:started', 'ferry:progress', 'ferry:finished'])
      document.addEventListener(type, (e) => window.ferryEvents.push(
        {type, target: e.target.id, id: e.detail.id, tenant: e.detail.tenant, status: e.detail.status}));
  </script>
  <script type="module" src="${ferry.url('/ferry-sync.js')}"></script>
  ${body}
</body>
</html>
`;
}

// ---- the page's contract (docs/ui.md) ----

/** Polls fn() for ms milliseconds and fails if it is ever truthy (for "X does not come
 * back": only used after the page has visibly loaded its data). */
export async function never(what, fn, ms = 1000) {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
        const v = await fn();
        if (v) throw new Error(`${what} (saw ${JSON.stringify(v)})`);
        await sleep(50);
    }
}

export const card = (page, sync) => page.locator(`[data-testid="sync-card"][data-sync="${sync}"]`);
export const notification = (page, runId) =>
    page.locator(`[data-testid="notifications"] [data-testid="notification"][data-run="${runId}"]`);
export const progressBar = (scope) => scope.locator('[data-testid="progress"] [role="progressbar"]');

/** The run id of the running notification of sync's title that appears after a click. */
export async function runningNotificationId(page, title) {
    const n = page.locator('[data-testid="notification"][data-state="running"]', { hasText: title });
    await n.first().waitFor({ state: 'visible' });
    const id = await n.first().getAttribute('data-run');
    assert.match(id ?? '', /^\d+$/, 'a notification has a numeric data-run');
    return Number(id);
}

/** Checks that values (progress samples) moved forward and never back. */
export function assertMovedForward(values, what) {
    assert.ok(values.length >= 2, `${what}: the progress bar's aria-valuenow never moved (saw ${JSON.stringify(values)})`);
    for (let i = 1; i < values.length; i++)
        assert.ok(values[i] > values[i - 1], `${what}: aria-valuenow went back: ${JSON.stringify(values)}`);
    for (const v of values) assert.ok(v >= 0 && v <= 100, `${what}: aria-valuenow out of 0..100: ${JSON.stringify(values)}`);
}
