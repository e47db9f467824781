// The run page's Deliveries panel (docs/ui.md): a webhook whose endpoint answers 500 shows as
// pending with the endpoint's answer; once the endpoint is fixed, an operator's Redeliver
// sends it again (the same delivery id) and the panel shows it delivered. The endpoint's URL
// is shown without its query (where a token would be).

import {
    assert, browserTest, PEOPLE_HEADER, peopleRows, RUN_WAIT, syncConfig, until, waitText,
} from './harness.mjs';

process.env.FERRY_TEST_WEBHOOK_SECRET = 'whsec-browser-7c1d';

browserTest('a failing webhook shows on the run page and an operator redelivers it', async (env) => {
    const app = await env.loopback();
    const hook = app.route('/hook', { status: 500, type: 'text/plain', body: 'down' });
    env.writeCsv('people.csv', PEOPLE_HEADER, peopleRows(3));
    const sync = syncConfig('people.csv');
    sync.notify = { webhook: { url: `${hook}?token=not-shown`, secret_env: 'FERRY_TEST_WEBHOOK_SECRET' } };
    // long first retry: the only second attempt is the Redeliver click's
    env.writeConfig({ people: sync }, { notify_retry_base: '1h' });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const started = await ferry.api('POST', '/api/syncs/people/runs');
    const runId = started.json.id;
    await until('the run to end and its delivery to be tried', async () => {
        const d = (await ferry.api('GET', `/api/runs/${runId}/deliveries`)).json.deliveries;
        return d.length === 1 && d[0].attempts === 1;
    }, { timeout: RUN_WAIT });

    const page = await env.loggedIn(ferry, ana, { hash: `#/runs/${runId}` });
    const panel = page.locator('[data-testid="run-deliveries"]');
    const row = panel.locator('tbody tr');
    await waitText(row.locator('[data-testid="delivery-status"]'), 'Pending');
    const text = (await row.innerText()).replace(/\s+/g, ' ');
    assert.match(text, /webhook/);
    assert.match(text, new RegExp(`http://127\\.0\\.0\\.1:${app.port}/hook answered 500`));
    assert.doesNotMatch(text, /not-shown/);
    await env.shot(page, 'deliveries-pending');

    app.route('/hook', { status: 200, type: 'text/plain', body: 'ok' });
    await row.locator('[data-testid="redeliver"]').click();
    await waitText(row.locator('[data-testid="delivery-status"]'), 'Delivered', { timeout: RUN_WAIT });
    const posts = app.requests.filter((r) => r.path.startsWith('/hook'));
    assert.equal(posts.length, 2);
    assert.equal(posts[0].headers['ferry-delivery'], posts[1].headers['ferry-delivery']);
    await env.shot(page, 'deliveries-delivered');
});
