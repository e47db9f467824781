// Ferry behind the host application's proxy (docs/security.md, docs/embedding.md): with
// base_path: /ferry the admin page works under the prefix in a real browser (it logs in,
// lists the syncs and starts a run, and asks for nothing outside /ferry/), and a host page
// on another origin loads /ferry/ferry-sync.js, whose requests follow where the script came
// from, signed in with an embed token that the "host backend" (this test) mints with node's
// crypto: the run is recorded as the person the token names.

import crypto from 'node:crypto';

import {
    assert, browserTest, card, PEOPLE_HEADER, peopleRows, RUN_WAIT, syncConfig, until, waitText,
} from './harness.mjs';

const SECRET = 'embed-secret-for-browser-tests-0123456789';
process.env.FERRY_TEST_EMBED_SECRET = SECRET;

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An HS256 JWT for claims, minted as a host application's backend would. */
function mint(claims) {
    const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = b64url(JSON.stringify(claims));
    const sig = crypto.createHmac('sha256', SECRET).update(`${head}.${body}`).digest();
    return `${head}.${body}.${b64url(sig)}`;
}

async function fixture(env, extra = {}) {
    const host = await env.loopback();
    const src = await env.loopback();
    env.writeConfig({ roster: syncConfig(src.csv('/roster.csv', PEOPLE_HEADER, peopleRows(5)), { title: 'Roster' }) },
                    { base_path: '/ferry', cors_origins: [host.url('/').replace(/\/$/, '')],
                      embed: { secret_env: 'FERRY_TEST_EMBED_SECRET', max_age: '10m' }, ...extra });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    return { ferry, host, ana };
}

browserTest('the page under base_path logs in, lists the syncs and starts a run', async (env) => {
    const { ferry, ana } = await fixture(env);
    const page = await env.newPage({ ferry });
    const asked = [];
    page.on('request', (r) => { if (r.url().startsWith(ferry.origin)) asked.push(new URL(r.url()).pathname); });
    await page.goto(ferry.url('/ferry'));  // redirected to /ferry/
    const form = page.locator('[data-testid="login-form"]');
    await form.waitFor({ state: 'visible' });
    assert.equal(new URL(page.url()).pathname, '/ferry/');
    await form.locator('input[name="user"]').fill(ana.name);
    await form.locator('input[name="password"]').fill(ana.password);
    await form.locator('button[type="submit"]').click();
    await waitText(page.locator('[data-testid="whoami"]'), 'ana');
    const c = card(page, 'roster');
    await waitText(c.getByRole('heading'), 'Roster');
    await c.locator('[data-testid="sync-now"]').click();
    await waitText(c.locator('[data-testid="last-result"]'), /Processed 5/, { timeout: RUN_WAIT });
    const runs = await ferry.getJson('/ferry/api/runs');
    assert.equal(runs.runs.length, 1);
    assert.equal(runs.runs[0].user, 'ana');
    assert.equal(runs.runs[0].status, 'succeeded');
    await env.shot(page, 'base-path');
    const outside = asked.filter((p) => p !== '/ferry' && !p.startsWith('/ferry/'));
    assert.deepEqual(outside, [], 'every request of the page is under /ferry/');
    assert.ok(asked.includes('/ferry/api/events'), `the event stream under the prefix: ${asked.join(' ')}`);
});

/** A host application's page with <ferry-sync> for roster, loaded from under /ferry/ and
 * signed in with token. */
function rosterHostPage(ferry, token) {
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Host app</title></head>
<body>
  <script type="module" src="${ferry.url('/ferry/ferry-sync.js')}"></script>
  <ferry-sync id="roster" sync="roster" token="${token}"></ferry-sync>
</body></html>
`;
}

browserTest('<ferry-sync> from /ferry/ferry-sync.js signs in with an embed token', async (env) => {
    const { ferry, host } = await fixture(env);
    const now = Math.floor(Date.now() / 1000);
    const token = mint({ sub: 'u-17', name: 'Olga', email: 'olga@clinic.example', role: 'operator',
                         iat: now, exp: now + 300, syncs: ['roster'] });
    host.route('/', { type: 'text/html; charset=utf-8', body: rosterHostPage(ferry, token) });
    const page = await env.newPage({ ferry });
    await page.goto(host.url('/'));
    const button = page.locator('ferry-sync#roster [data-testid="sync-now"]');
    await waitText(button, /^Sync now$/);
    await button.click();
    const runs = await until('the run to be recorded and to end', async () => {
        const r = await ferry.getJson('/ferry/api/runs');
        return r.runs.length === 1 && r.runs[0].status === 'succeeded' ? r.runs : null;
    }, { timeout: RUN_WAIT });
    assert.equal(runs[0].user, 'olga@clinic.example via embed');
    assert.equal(runs[0].token, null);
    assert.ok(!ferry.stderr().includes(SECRET), 'the secret is not in the log');
});

browserTest('<ferry-sync> with an expired embed token says it expired', async (env) => {
    const { ferry, host } = await fixture(env);
    const now = Math.floor(Date.now() / 1000);
    const token = mint({ sub: 'u-17', email: 'olga@clinic.example', role: 'operator',
                         iat: now - 600, exp: now - 60 });
    host.route('/', { type: 'text/html; charset=utf-8', body: rosterHostPage(ferry, token) });
    const page = await env.newPage({ ferry });
    await page.goto(host.url('/'));
    const message = page.locator('ferry-sync#roster [part="message"]');
    await waitText(message, /Ferry refused the token: .*expired/);
    assert.ok(!(await message.textContent()).includes(token), 'the token is not shown');
});

browserTest('the page signed in by a trusted proxy header offers no Log out and records the user', async (env) => {
    const { ferry } = await fixture(env, {
        auth: { trusted_header: 'X-Forwarded-User', trusted_proxies: ['127.0.0.1/32'] } });
    const page = await env.newPage({ ferry });
    await page.setExtraHTTPHeaders({ 'X-Forwarded-User': 'ana' });
    await page.goto(ferry.url('/ferry/'));
    await waitText(page.locator('[data-testid="whoami"]'), 'ana');
    assert.equal(await page.locator('[data-testid="logout"]').count(), 0, 'signing out is the proxy\'s');
    const c = card(page, 'roster');
    await c.locator('[data-testid="sync-now"]').click();
    await waitText(c.locator('[data-testid="last-result"]'), /Processed 5/, { timeout: RUN_WAIT });
    const runs = await ferry.getJson('/ferry/api/runs');
    assert.equal(runs.runs[0].user, 'ana');
});
