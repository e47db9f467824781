// The admin page's options (docs/ui.md): Settings' "Hide notifications of successful syncs"
// (autodismiss; off by default, kept per user in localStorage; failures stay), and per-tenant
// cards for a sync with tenants.

import {
    assert, browserTest, card, never, notification, PEOPLE_HEADER, peopleRows, RUN_WAIT, summary,
    syncConfig, until, waitAttr, waitCount, waitText,
} from './harness.mjs';

/** The id of the newest notification of title in state (success or failure) once shown. */
async function finishedNotificationId(page, title, state) {
    const n = page.locator(`[data-testid="notification"][data-state="${state}"]`, { hasText: title });
    await n.first().waitFor({ state: 'visible', timeout: RUN_WAIT });
    return Number(await n.first().getAttribute('data-run'));
}

browserTest('Settings: success notifications hide after the chosen seconds; failures stay; the choice is kept', async (env) => {
    const src = await env.loopback();
    env.writeConfig({
        quick: syncConfig(src.csv('/quick.csv', PEOPLE_HEADER, peopleRows(3)), { title: 'Quick' }),
        broken: syncConfig(src.url('/missing.csv'), { title: 'Broken', table: 'broken' }),
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana);
    const select = page.locator('[data-testid="prefs"] select[data-testid="autodismiss"]');
    const stored = () => page.evaluate(() => localStorage.getItem('ferry.prefs.ana'));

    // Off by default: a success stays.
    await page.locator('[data-testid="prefs"] summary').click();
    await select.waitFor({ state: 'visible' });
    assert.equal(await select.inputValue(), '0');
    assert.match(await page.locator('[data-testid="prefs"] label').innerText(), /Hide notifications of successful syncs/);
    await env.shot(page, 'settings');
    await page.locator('[data-testid="prefs"] summary').click(); // closed again
    await page.mouse.move(0, 0); // not over a notification, which would hold it
    await card(page, 'quick').locator('[data-testid="sync-now"]').click();
    const first = await finishedNotificationId(page, 'Quick', 'success');
    await waitText(notification(page, first), summary(3, { created: 3 }));
    await never('a success notification went with autodismiss off',
                async () => (await notification(page, first).count()) === 0, 2500);

    // Choosing "After 5 s" hides the success shown, and is stored for this user.
    await page.locator('[data-testid="prefs"] summary').click();
    await select.selectOption('5');
    await page.locator('[data-testid="prefs"] summary').click();
    await page.mouse.move(0, 0);
    assert.deepEqual(JSON.parse(await stored()), { autodismiss: 5 });
    await waitCount(notification(page, first), 0, { timeout: RUN_WAIT });

    // A refresh keeps the choice (here 1 s, written as the page writes it) and does not bring
    // back the hidden notification; a failure stays, a success goes.
    await page.evaluate(() => localStorage.setItem('ferry.prefs.ana', JSON.stringify({ autodismiss: 1 })));
    await page.reload();
    await waitText(page.locator('[data-testid="whoami"]'), 'ana');
    await page.mouse.move(0, 0);
    assert.equal(await select.inputValue(), '1');
    await waitText(card(page, 'quick').locator('[data-testid="sync-now"]'), /^Sync now$/);
    assert.equal(await notification(page, first).count(), 0, 'a hidden notification does not come back');
    await card(page, 'broken').locator('[data-testid="sync-now"]').click();
    const red = await finishedNotificationId(page, 'Broken', 'failure');
    await never('a failure notification went', async () => (await notification(page, red).count()) === 0, 2500);
    await card(page, 'quick').locator('[data-testid="sync-now"]').click();
    const second = await until('a second run of quick', async () => {
        const runs = (await ferry.getJson('/api/runs?sync=quick')).runs;
        return runs.length === 2 ? runs[0].id : null;
    });
    await ferry.waitRun(second);
    // Shown, then hidden as if dismissed: in the stored dismissed list, gone from the page.
    await until('the second success to be hidden', async () => {
        const saved = JSON.parse(await page.evaluate(() => localStorage.getItem('ferry.notifications.ana')) || '{}');
        return (saved.dismissed || []).includes(second);
    }, { timeout: RUN_WAIT });
    await waitCount(notification(page, second), 0);
    await waitAttr(notification(page, red), 'data-state', 'failure');
});

browserTest('a sync with tenants: a row per tenant with its own result, progress and Sync now', async (env) => {
    const src = await env.loopback();
    src.slowCsv('/clinic-a.csv', PEOPLE_HEADER, peopleRows(3000), 4); // clinic-b.csv: 404
    env.writeConfig({
        people: syncConfig(src.url('/{clinic}.csv'), {
            title: 'People',
            extra: { tenant: { variable: 'clinic', column: 'clinic_id', values: ['clinic-a', 'clinic-b'] } },
        }),
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'people');
    const row = (t) => c.locator(`[data-testid="tenant-card"][data-tenant="${t}"]`);
    await waitCount(c.locator('[data-testid="tenant-card"]'), 2);
    assert.deepEqual(await c.locator('[data-testid="tenant-card"]').evaluateAll((els) => els.map((e) => e.dataset.tenant)),
                     ['clinic-a', 'clinic-b'], 'the tenants in the config\'s order');
    for (const t of ['clinic-a', 'clinic-b']) await waitText(row(t).locator('[data-testid="tenant-last"]'), 'Never run');
    assert.equal(await c.locator('[data-testid="last-result"]').isVisible(), false, 'no one result for all tenants');

    // clinic-a syncs; clinic-b, started meanwhile, fails: each row shows its own.
    await row('clinic-a').locator('[data-testid="tenant-sync-now"]').click();
    await waitText(row('clinic-a').locator('[data-testid="tenant-sync-now"]'), /^Syncing\.\.\./);
    await row('clinic-a').locator('[data-testid="progress"]').waitFor({ state: 'visible' });
    const bButton = row('clinic-b').locator('[data-testid="tenant-sync-now"]');
    await waitText(bButton, /^Sync now$/);
    assert.ok(!(await bButton.isDisabled()), 'clinic-b can sync while clinic-a does');
    await bButton.click();
    await waitAttr(row('clinic-b'), 'data-state', 'failure', { timeout: RUN_WAIT });
    await waitText(row('clinic-b').locator('[data-testid="tenant-last"]'), /Failed.*404/);
    const aRuns = (await ferry.getJson('/api/runs?sync=people&tenant=clinic-a')).runs;
    assert.equal(aRuns.length, 1);
    if (['queued', 'running'].includes((await ferry.run(aRuns[0].id)).status)) {
        assert.equal(await row('clinic-a').getAttribute('data-state'), null, 'clinic-a shows no failure while it syncs');
        assert.doesNotMatch(await row('clinic-a').innerText(), /404|Failed/);
    }
    await env.shot(page, 'syncs-tenant-rows');
    await waitAttr(row('clinic-a'), 'data-state', 'success', { timeout: RUN_WAIT });
    await waitText(row('clinic-a').locator('[data-testid="tenant-last"]'), summary(3000, { created: 3000 }));
    await waitText(row('clinic-a').locator('[data-testid="tenant-sync-now"]'), /^Sync now$/);
    assert.equal(await row('clinic-a').locator('[data-testid="progress"]').count(), 0);
    assert.equal(await row('clinic-b').getAttribute('data-state'), 'failure', 'clinic-b keeps its failure');
    const bRun = (await ferry.getJson('/api/runs?sync=people&tenant=clinic-b')).runs[0];
    assert.equal(await row('clinic-b').locator('[data-testid="tenant-last"] a').getAttribute('href'), `#/runs/${bRun.id}`);

    // After a refresh the rows come from the runs' list.
    await page.reload();
    await waitAttr(row('clinic-a'), 'data-state', 'success');
    await waitAttr(row('clinic-b'), 'data-state', 'failure');
    await waitText(row('clinic-a').locator('[data-testid="tenant-last"]'), summary(3000, { created: 3000 }));
});
