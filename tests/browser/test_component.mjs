// The embeddable component <ferry-sync> (docs/ui.md) on another site's page: a host page
// served from a loopback server on another port (so another origin) loads
// http://127.0.0.1:FERRYPORT/ferry-sync.js and uses <ferry-sync sync=... token=...>; Ferry
// allows that origin with cors_origins. The test clicks the component's button (Playwright's
// CSS selectors pierce open shadow roots), watches its progress bar and message, and checks
// the events the host page received.

import {
    assert, assertMovedForward, browserTest, PEOPLE_HEADER, peopleRows, RUN_WAIT, sampleProgress,
    summary, syncConfig, until, waitAttr, waitText,
} from './harness.mjs';

const ROWS = 3000;

function hostPage(ferry, token) {
    return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Host app</title></head>
<body>
  <h1>Host app's admin</h1>
  <script>
    window.ferryEvents = [];
    for (const type of ['ferry:started', 'ferry:progress', 'ferry:finished'])
      document.addEventListener(type, (e) => window.ferryEvents.push(
        {type, bubbles: e.bubbles, composed: e.composed, target: e.target.id, detail: e.detail}));
  </script>
  <script type="module" src="${ferry.url('/ferry-sync.js')}"></script>
  <ferry-sync id="roster" sync="roster" token="${token}"></ferry-sync>
  <ferry-sync id="rooms" sync="rooms" token="${token}" label="Import rooms"></ferry-sync>
</body>
</html>
`;
}

browserTest('<ferry-sync> on another origin syncs with a token, shows progress and result, and fires ferry:finished', async (env, t) => {
    const host = await env.loopback();
    const src = await env.loopback();
    const syncs = {
        roster: syncConfig(src.slowCsv('/roster.csv', PEOPLE_HEADER, peopleRows(ROWS), 4), { title: 'Roster' }),
        rooms: syncConfig(src.csv('/rooms.csv', PEOPLE_HEADER, peopleRows(2)), { title: 'Rooms', table: 'rooms' }),
    };
    env.writeConfig(syncs, { cors_origins: [host.url('/').replace(/\/$/, '')] });
    const check = await env.cli(['check', '--config', env.configPath]);
    if (check.code !== 0 && /cors_origins/.test(check.stdout + check.stderr)) {
        t.skip('this ferry does not know the cors_origins config key yet (ferry check: ' +
               `${(check.stdout + check.stderr).trim().split('\n').pop()})`);
        return;
    }
    assert.equal(check.code, 0, `ferry check: ${check.stdout}${check.stderr}`);
    await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8', body: hostPage(ferry, token) });

    const page = await env.newPage({ ferry });
    await page.goto(host.url('/'));
    const button = page.locator('ferry-sync#roster [data-testid="sync-now"]');
    await waitText(button, /^Sync now$/);
    await waitText(page.locator('ferry-sync#rooms [data-testid="sync-now"]'), /^Import rooms$/);
    const shadow = await page.evaluate(() => {
        const el = document.querySelector('ferry-sync#roster');
        const b = el.shadowRoot && el.shadowRoot.querySelector('button[data-testid="sync-now"]');
        return { open: !!el.shadowRoot, part: b && b.getAttribute('part') };
    });
    assert.deepEqual(shadow, { open: true, part: 'button' }, 'an open shadow root with the button part');
    await env.shot(page, 'component');

    await button.click();
    const bar = page.locator('ferry-sync#roster [part="progress"][role="progressbar"]');
    await waitAttr(bar, 'aria-valuenow', (v) => Number(v) > 0);
    const message = page.locator('ferry-sync#roster [part="message"][role="status"]');
    const samples = sampleProgress(bar, async () => /Processed/.test(await message.innerText().catch(() => '')));
    await env.shot(page, 'component-running');
    assertMovedForward(await samples, 'the component');
    await waitText(message, summary(ROWS, { created: ROWS }), { timeout: RUN_WAIT });
    await env.shot(page, 'component-finished');

    const events = await until('the host page to receive ferry:finished', async () => {
        const evs = await page.evaluate(() => window.ferryEvents);
        return evs.some((e) => e.type === 'ferry:finished') ? evs : null;
    });
    const started = events.find((e) => e.type === 'ferry:started');
    const finished = events.find((e) => e.type === 'ferry:finished');
    assert.ok(started, `ferry:started came: ${JSON.stringify(events.map((e) => e.type))}`);
    assert.ok(events.indexOf(started) < events.indexOf(finished), 'started before finished');
    for (const e of [started, finished]) {
        assert.equal(e.bubbles, true, `${e.type} bubbles`);
        assert.equal(e.composed, true, `${e.type} is composed`);
        assert.equal(e.target, 'roster', `${e.type} comes from the roster component`);
    }
    assert.equal(finished.detail.status, 'succeeded');
    assert.equal(finished.detail.sync, 'roster');
    assert.equal(started.detail.id, finished.detail.id);
    const run = await ferry.run(finished.detail.id);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.user, 'ana', 'the run is the token user\'s');
    assert.equal(run.token, 'host-app', 'the run records the token\'s name');
    assert.ok(events.every((e) => e.detail.sync === 'roster'), 'the rooms component fired nothing');

    const dismiss = page.locator('ferry-sync#roster button[part="dismiss"]');
    assert.equal(await dismiss.getAttribute('aria-label'), 'Dismiss');
    await dismiss.click();
    await until('the message to be dismissed', async () => !(await message.isVisible()) ||
                (await message.innerText()).trim() === '');
    await waitText(button, /^Sync now$/);
});
