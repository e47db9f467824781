// What a run is doing (docs/ui.md, docs/embedding.md): the run page's Activity panel and the
// <ferry-sync> activity list grow live from run.activity events and show the stored log after
// the run; the Details panel says what the run read of its source; a tenant's row on the
// syncs card counts the rows the table holds for it.
//
// Holding a run in its apply without sleeping: people.csv is a named pipe the test holds open
// for reading and writing. It writes the header before the run starts; Ferry reads it, logs
// connecting, fetching and applying, then waits for rows until the test writes them and
// closes the pipe.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

import {
    assert, browserTest, card, componentHostPage, csvText, PEOPLE_HEADER, peopleRows, RUN_WAIT, summary,
    syncConfig, until, waitText,
} from './harness.mjs';

const ROWS = peopleRows(3);

/** The texts of the activity entries under scope, whitespace collapsed, time left out. */
async function entries(scope) {
    return scope.locator('[data-testid="activity-list"] li').evaluateAll(
        (els) => els.map((e) => [e.dataset.kind, e.lastChild.textContent.trim()]));
}

async function waitEntry(scope, kind, text, opts = {}) {
    let seen = [];
    await until(`an activity entry ${kind} "${text}"`, async () => {
        seen = await entries(scope);
        return seen.some(([k, t]) => k === kind && t === text);
    }, { ...opts, describe: () => JSON.stringify(seen) });
    return seen;
}

browserTest('the run page and <ferry-sync> list the activity live, and the page keeps it after a refresh', async (env) => {
    const pipe = env.path('people.csv');
    const made = spawnSync('mkfifo', [pipe], { encoding: 'utf8' });
    assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
    const feed = await fs.promises.open(pipe, 'r+');
    let closed = false;
    try {
        await feed.write(csvText(PEOPLE_HEADER, []));
        const host = await env.loopback();
        env.writeConfig({ people: syncConfig('people.csv', { title: 'People' }) },
                        { cors_origins: [host.url('/').replace(/\/$/, '')] });
        const ana = await env.user('ana', 'operator');
        const token = await env.token('ana', 'host-app');
        const ferry = await env.serve();
        host.route('/', { type: 'text/html; charset=utf-8',
                          body: componentHostPage(ferry, `<ferry-sync id="p" sync="people" token="${token}"></ferry-sync>`) });
        // Logged in first: while the run holds SQLite's write lock a login (a write) waits.
        const page = await env.loggedIn(ferry, ana);
        const other = await env.newPage({ ferry });
        await other.goto(host.url('/'));
        const button = other.locator('ferry-sync#p [data-testid="sync-now"]');
        await waitText(button, /^Sync now$/);
        await button.click();
        const comp = other.locator('ferry-sync#p');
        // The log shows once it has entries; collapsed at first, it opens on a click.
        await until('the component\'s activity to show', () => comp.locator('[part~="activity"]').isVisible());
        await comp.locator('[part~="activity-summary"]').click();
        await waitEntry(comp, 'phase', 'applying');
        const runId = await other.evaluate(() => document.querySelector('#p').run.id);

        await page.evaluate((id) => { location.hash = `#/runs/${id}`; }, runId);
        const panel = page.locator('[data-testid="run-activity"]');
        const live = await waitEntry(panel, 'phase', 'applying');
        assert.deepEqual(live.slice(0, 3), [['phase', 'connecting'], ['phase', 'fetching'], ['phase', 'applying']]);
        await env.shot(page, 'activity-live');

        await feed.write(csvText([], ROWS).replace(/^\n/, ''));
        await feed.close();
        closed = true;
        await ferry.waitRun(runId);
        const done = await waitEntry(panel, 'phase', 'done: succeeded', { timeout: RUN_WAIT });
        assert.deepEqual(done.map(([, t]) => t),
                         ['connecting', 'fetching', 'applying', 'committing', 'done: succeeded']);
        await waitText(page.locator('[data-testid="ui-message"]'), summary(3, { created: 3 }));
        const run = await ferry.run(runId);
        assert.equal(run.source_records, 3);
        await waitText(page.locator('[data-testid="source-size"]'), `${run.source_bytes} bytes, 3 records`);
        await waitEntry(comp, 'phase', 'done: succeeded');

        // After a refresh the stored log is there, not duplicated.
        await page.reload();
        const again = await waitEntry(page.locator('[data-testid="run-activity"]'), 'phase', 'done: succeeded');
        assert.equal(again.length, 5, JSON.stringify(again));
        await waitText(page.locator('[data-testid="activity-count"]'), '(5)');
        await env.shot(page, 'activity-stored');
    } finally {
        if (!closed) await feed.close();
    }
});

browserTest('each tenant\'s row counts the rows the table holds for it', async (env) => {
    env.writeCsv('clinic-a.csv', PEOPLE_HEADER, peopleRows(3));
    env.writeCsv('clinic-b.csv', PEOPLE_HEADER, peopleRows(1204));
    env.writeConfig({
        people: syncConfig('{clinic}.csv', {
            title: 'People',
            extra: { tenant: { variable: 'clinic', column: 'clinic_id', values: ['clinic-a', 'clinic-b', 'clinic-c'] } },
        }),
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    for (const clinic of ['clinic-a', 'clinic-b']) {
        const r = await ferry.api('POST', '/api/syncs/people/runs', { body: { tenant: clinic } });
        assert.equal(r.status, 202, r.text);
        assert.equal((await ferry.waitRun(r.json.id)).status, 'succeeded');
    }
    const page = await env.loggedIn(ferry, ana);
    const row = (t) => card(page, 'people').locator(`[data-testid="tenant-card"][data-tenant="${t}"]`);
    await waitText(row('clinic-a').locator('[data-testid="tenant-rows"]'), /^3 rows$/);
    await waitText(row('clinic-b').locator('[data-testid="tenant-rows"]'), /^1,204 rows$/);
    await waitText(row('clinic-c').locator('[data-testid="tenant-rows"]'), /^no rows yet$/);
    // Its own latest run on each row.
    await waitText(row('clinic-a').locator('[data-testid="tenant-last"]'), summary(3, { created: 3 }));
    await env.shot(page, 'tenant-rows');
});

browserTest('while a REST source\'s pages arrive the card and <ferry-sync> read "Fetched 200 of 250"', async (env) => {
    const api = await env.loopback();
    const item = (i) => ({ id: i, name: `Name ${i}`, email: `user${i}@example.com` });
    const page = (k, n, next) => JSON.stringify({
        total: 250, items: Array.from({ length: n }, (_, i) => item(k * 100 + i + 1)),
        next: next ? api.url(next) : null,
    });
    let release;
    const held = new Promise((resolve) => { release = resolve; });
    const json = 'application/json';
    api.route('/p1', { type: json, body: page(0, 100, '/p2') });
    api.route('/p2', { type: json, body: page(1, 100, '/p3') });
    api.route('/p3', { type: json, body: page(2, 50, null), hold: held });
    const host = await env.loopback();
    env.writeConfig({
        people: {
            title: 'People',
            source: { kind: 'rest', url: api.url('/p1'), records: '/items',
                      pagination: { style: 'next_link', next: '/next', total: '/total' } },
            target: { table: 'people', key: ['id'] },
            fields: { id: { type: 'integer' }, name: {}, email: { type: 'email' } },
        },
    }, { cors_origins: [host.url('/').replace(/\/$/, '')], allow_private: true });
    const ana = await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8',
                      body: componentHostPage(ferry, `<ferry-sync id="p" sync="people" token="${token}"></ferry-sync>`) });
    const admin = await env.loggedIn(ferry, ana);
    const other = await env.newPage({ ferry });
    await other.goto(host.url('/'));
    const c = card(admin, 'people');
    try {
        await c.locator('[data-testid="sync-now"]').click();
        await waitText(c.locator('[data-testid="progress-text"]'), /· fetching · Fetched 200 of 250/);
        await waitText(other.locator('ferry-sync#p [part~="progress-text"]'), /^Fetched 200 of 250$/);
        await env.shot(admin, 'fetched-card');
    } finally {
        release();
    }
    await waitText(c.locator('[data-testid="last-result"]'), summary(250, { created: 250 }), { timeout: RUN_WAIT });
    assert.equal(await other.locator('ferry-sync#p [part~="progress-text"]').isVisible(), false,
                 'no fetch count once the run ended');
});
