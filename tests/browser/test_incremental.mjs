// An incremental sync on the syncs view (docs/ui.md): its card has a "Full sync" action next
// to "Sync now" (a CSV sync's card has none); clicking it starts a run that fetches every
// record (no updated_since sent to the API), and the run's page says "Full (asked for)".
// Runs started with "Sync now" after the first ask only for what changed.

import { assert, browserTest, card, RUN_WAIT, until, waitText } from './harness.mjs';

const TICKETS = [
    { id: 1, subject: 'Printer jam', updated_at: '2026-12-06T09:00:00Z' },
    { id: 2, subject: 'VPN down', updated_at: '2026-12-06T10:00:00Z' },
];

async function fixture(env) {
    const api = await env.loopback();
    const url = api.route('/tickets', { type: 'application/json', body: JSON.stringify({ tickets: TICKETS }) });
    env.writeCsv('people.csv', ['id', 'name'], [['1', 'Ana']]);
    env.writeConfig({
        tickets: {
            title: 'Tickets',
            source: {
                kind: 'rest', url, records: '/tickets',
                incremental: { cursor: '/updated_at', param: 'updated_since', overlap: '5m' },
            },
            target: { table: 'tickets', key: ['id'] },
            fields: { id: { type: 'integer' }, subject: {} },
        },
        people: {
            source: { url: 'people.csv' },
            target: { table: 'people', key: ['id'] },
            fields: { id: { type: 'integer' }, name: {} },
        },
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    return { api, ferry, ana };
}

const sinceOf = (req) => new URL(req.path, 'http://x').searchParams.get('updated_since');

browserTest('the Full sync action of an incremental sync fetches everything once', async (env) => {
    const { api, ferry, ana } = await fixture(env);
    const first = await ferry.runToEnd('tickets');
    assert.equal(first.status, 'succeeded', first.error);
    assert.equal(first.mode, 'full');
    const second = await ferry.runToEnd('tickets');
    assert.equal(second.mode, 'incremental');
    assert.equal(second.since, '2026-12-06T09:55:00Z');
    assert.equal(sinceOf(api.requests.at(-1)), '2026-12-06T09:55:00Z');

    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'tickets');
    await waitText(c.getByRole('heading'), 'Tickets');
    const full = c.locator('[data-testid="full-sync"]');
    await full.waitFor({ state: 'visible' });
    assert.equal(await full.textContent(), 'Full sync');
    assert.equal(await card(page, 'people').locator('[data-testid="full-sync"]').isVisible(), false,
        'a CSV sync has no Full sync');

    const before = api.requests.length;
    await full.click();
    let run = null;
    await until('the full run to end', async () => {
        const runs = await ferry.getJson('/api/runs?sync=tickets');
        const list = runs.runs || runs;
        run = list.find((r) => r.id > second.id && ['succeeded', 'failed'].includes(r.status));
        return !!run;
    }, { timeout: RUN_WAIT });
    assert.equal(run.status, 'succeeded', run.error);
    assert.equal(run.mode, 'full');
    assert.equal(run.full, true);
    assert.equal(run.since, null);
    const sent = api.requests.slice(before);
    assert.ok(sent.length > 0 && sent.every((r) => sinceOf(r) === null), 'a full run sends no updated_since');

    await page.goto(ferry.url(`/#/runs/${run.id}`));
    await waitText(page.locator('.fact', { hasText: 'Mode' }), /Full \(asked for\)/);
    await page.goto(ferry.url(`/#/runs/${second.id}`));
    await waitText(page.locator('.fact', { hasText: 'Mode' }), /Incremental since/);
});

browserTest("a tenant's Full sync fetches everything for that tenant only", async (env) => {
    const api = await env.loopback();
    api.route('/tickets', { type: 'application/json', body: JSON.stringify({ tickets: TICKETS }) });
    env.writeConfig({
        tickets: {
            title: 'Tickets',
            tenant: { variable: 'org', column: 'org', values: ['org-1', 'org-2'] },
            source: {
                kind: 'rest', url: api.url('/tickets?org={org}'), records: '/tickets',
                incremental: { cursor: '/updated_at', param: 'updated_since' },
            },
            target: { table: 'tickets', key: ['id'] },
            fields: { id: { type: 'integer' }, subject: {} },
        },
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    for (const org of ['org-1', 'org-2']) {
        for (let i = 0; i < 2; i++) {
            const { status, json: data } = await ferry.api('POST', '/api/syncs/tickets/runs', { body: { tenant: org } });
            assert.equal(status, 202);
            await ferry.waitRun(data.id);
        }
    }
    const page = await env.loggedIn(ferry, ana);
    const row = card(page, 'tickets').locator('[data-testid="tenant-card"][data-tenant="org-2"]');
    const before = api.requests.length;
    await row.locator('[data-testid="tenant-full-sync"]').click();
    await until('the full run of org-2', async () => api.requests.length > before);
    const sent = api.requests.slice(before);
    assert.ok(sent.every((r) => r.path.includes('org=org-2') && sinceOf(r) === null), JSON.stringify(sent));
    let run = null;
    await until('the run to end', async () => {
        const { runs } = await ferry.getJson('/api/runs?sync=tickets&tenant=org-2');
        run = runs[0];
        return run && run.status === 'succeeded' && run.full;
    }, { timeout: RUN_WAIT });
    assert.equal(run.mode, 'full');
});
