// The syncs view (docs/ui.md): "Sync now", the progress bar, notifications (running, green,
// red; dismissed for good), a refresh mid-run, failures, cancel, roles, live updates in a
// second window, and the 375 px wide layout.
//
// Slow runs read their CSV from a loopback server that drips it over a few seconds (with its
// Content-Length, so the percent moves while it downloads).

import {
    assert, assertMovedForward, browserTest, card, never, notification, PEOPLE_HEADER, peopleRows,
    progressBar, RUN_WAIT, runningNotificationId, sampleProgress, summary, syncConfig, until,
    waitAttr, waitCount, waitText,
} from './harness.mjs';

const ROWS = 3000;

/** A config with one sync, roster ("Roster"), reading ROWS rows dripped over seconds s, and
 * whatever other syncs are given; an operator ana; the server. */
async function slowFixture(env, { seconds = 4, others = {}, users = [['ana', 'operator']] } = {}) {
    const src = await env.loopback();
    const url = src.slowCsv('/roster.csv', PEOPLE_HEADER, peopleRows(ROWS), seconds);
    env.writeConfig({ roster: syncConfig(url, { title: 'Roster' }), ...others });
    const people = {};
    for (const [name, role] of users) people[name] = await env.user(name, role);
    const ferry = await env.serve();
    return { ferry, src, ...people };
}

const syncNow = (c) => c.locator('[data-testid="sync-now"]');

/** Checks the sync-now button's idle state: "Sync now", enabled, not busy. */
async function assertIdle(c) {
    await waitText(syncNow(c), /^Sync now$/, { timeout: RUN_WAIT });
    await until('the sync-now button to be enabled', async () => !(await syncNow(c).isDisabled()));
    assert.notEqual(await syncNow(c).getAttribute('aria-busy'), 'true');
    assert.equal(await syncNow(c).locator('[data-testid="spinner"]').count(), 0, 'no spinner when idle');
}

/** Checks the sync-now button's busy state: "Syncing...", disabled, aria-busy, a spinner. */
async function assertSyncing(c) {
    await waitText(syncNow(c), /^Syncing\.\.\./);
    assert.ok(await syncNow(c).isDisabled(), 'the button is disabled while syncing');
    await waitAttr(syncNow(c), 'aria-busy', 'true');
    assert.equal(await syncNow(c).locator('[data-testid="spinner"]').count(), 1, 'a spinner in the button');
}

browserTest('an operator syncs now: Syncing..., the bar moves, a green summary dismissed with X', async (env) => {
    const { ferry, ana } = await slowFixture(env);
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'roster');
    await waitText(c.getByRole('heading'), 'Roster');
    await waitText(c.locator('[data-testid="schedule"]'), 'Manual');
    await waitText(c.locator('[data-testid="last-result"]'), 'Never run');
    await assertIdle(c);
    assert.equal(await c.locator('[data-testid="progress"]').count(), 0, 'no progress before a run');
    await env.shot(page, 'syncs');

    await syncNow(c).click();
    await assertSyncing(c);
    const bar = progressBar(c);
    await bar.waitFor({ state: 'visible' });
    assert.equal(await bar.getAttribute('aria-valuemin'), '0');
    assert.equal(await bar.getAttribute('aria-valuemax'), '100');
    await waitText(c.locator('[data-testid="cancel"]'), /^Cancel$/);
    const runId = await runningNotificationId(page, 'Roster');
    const running = notification(page, runId);
    await waitText(running, 'Syncing...');

    // Sample the bar until the run's progress is gone; meanwhile, once it shows some
    // progress, a screenshot of the running card.
    const samples = sampleProgress(bar, async () => (await c.locator('[data-testid="progress"]').count()) === 0);
    await waitAttr(bar, 'aria-valuenow', (v) => Number(v) > 0);
    await waitText(c.locator('[data-testid="progress-text"]'), /\d+\s*%/);
    await env.shot(page, 'syncs-running');
    assertMovedForward(await samples, 'the card');

    await waitAttr(running, 'data-state', 'success', { timeout: RUN_WAIT });
    await waitText(running, summary(ROWS, { created: ROWS }));
    await waitText(running, 'Roster');
    assert.equal(await running.locator(`a[href$="#/runs/${runId}"]`).count(), 1, 'a link to the run detail');
    await assertIdle(c);
    assert.equal(await c.locator('[data-testid="cancel"]').count(), 0, 'no Cancel once the run ended');
    await waitText(c.locator('[data-testid="last-result"]'), summary(ROWS, { created: ROWS }));
    await waitText(c.locator('[data-testid="last-result"]'), 'ana');
    const run = await ferry.run(runId);
    assert.equal(run.status, 'succeeded');
    assert.equal(run.user, 'ana');
    assert.equal(run.trigger, 'api');
    await env.shot(page, 'notification-success');

    const dismiss = running.locator('button[data-testid="dismiss"]');
    assert.equal(await dismiss.getAttribute('aria-label'), 'Dismiss');
    await dismiss.click();
    await waitCount(running, 0);
});

browserTest('a refresh mid-run shows the progress again; a finished run\'s notification stays until dismissed', async (env) => {
    const { ferry, ana } = await slowFixture(env, { seconds: 6 });
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'roster');
    await syncNow(c).click();
    const runId = await runningNotificationId(page, 'Roster');
    const before = Number(await waitAttr(progressBar(c), 'aria-valuenow', (v) => Number(v) > 0));

    await page.reload();
    await waitText(page.locator('[data-testid="whoami"]'), 'ana');
    await assertSyncing(c);
    const after = Number(await waitAttr(progressBar(c), 'aria-valuenow', (v) => v !== null && v !== ''));
    assert.ok(after >= before, `after the refresh the bar shows ${after}%, before it ${before}%`);
    const n = notification(page, runId);
    await waitAttr(n, 'data-state', 'running');
    const samples = await sampleProgress(progressBar(c), async () => (await c.locator('[data-testid="progress"]').count()) === 0);
    assertMovedForward(samples, 'after the refresh');
    await waitAttr(n, 'data-state', 'success', { timeout: RUN_WAIT });
    await waitText(n, summary(ROWS, { created: ROWS }));

    // Not dismissed: a refresh shows it again.
    await page.reload();
    await waitText(c.locator('[data-testid="last-result"]'), summary(ROWS, { created: ROWS }));
    await waitAttr(n, 'data-state', 'success');
    await waitText(n, summary(ROWS, { created: ROWS }));
    await n.locator('button[data-testid="dismiss"]').click();
    await waitCount(n, 0);
    const stored = await page.evaluate(() => localStorage.getItem('ferry.notifications.ana'));
    assert.ok(stored, 'the dismissal is kept in localStorage under ferry.notifications.ana');

    // Dismissed: a refresh does not bring it back.
    await page.reload();
    await waitText(c.locator('[data-testid="last-result"]'), summary(ROWS, { created: ROWS }));
    await assertIdle(c);
    await never('the dismissed notification came back after a refresh', async () => (await n.count()) > 0);
});

browserTest('failing syncs (a 404 source, a missing file) end in a red notification with the error', async (env) => {
    const src = await env.loopback(); // no routes: every path is 404
    env.writeConfig({
        web: syncConfig(src.url('/gone.csv'), { title: 'Web roster', table: 'web' }),
        file: syncConfig('missing.csv', { title: 'File roster', table: 'file' }),
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana);
    for (const [sync, title, error] of [['web', 'Web roster', /answered HTTP 404/], ['file', 'File roster', /missing\.csv/]]) {
        const c = card(page, sync);
        await assertIdle(c);
        await syncNow(c).click();
        const red = page.locator('[data-testid="notification"][data-state="failure"]', { hasText: title });
        await red.waitFor({ state: 'visible', timeout: RUN_WAIT });
        const runId = Number(await red.getAttribute('data-run'));
        const run = await ferry.run(runId);
        assert.equal(run.status, 'failed', `${sync}: ${JSON.stringify(run)}`);
        assert.equal(run.sync, sync);
        assert.match(run.error, error);
        await waitText(red, run.error);
        await waitText(c.locator('[data-testid="last-result"]'), run.error);
        await assertIdle(c);
    }
    await env.shot(page, 'notification-failure');
});

browserTest('a viewer sees the progress but no "Sync now" and no Cancel', async (env) => {
    const { ferry, vera } = await slowFixture(env, { seconds: 3, users: [['vera', 'viewer'], ['ana', 'operator']] });
    const opToken = await env.token('ana', 'viewer-test');
    const page = await env.loggedIn(ferry, vera);
    const c = card(page, 'roster');
    await waitText(page.locator('[data-testid="whoami"]'), /vera.*viewer/);
    await waitText(c.locator('[data-testid="last-result"]'), 'Never run');
    assert.equal(await syncNow(c).count(), 0, 'no sync-now button for a viewer');

    const run = await ferry.startRun('roster', { token: opToken });
    const bar = progressBar(c);
    await bar.waitFor({ state: 'visible' });
    assert.equal(await c.locator('[data-testid="cancel"]').count(), 0, 'no Cancel for a viewer');
    assert.equal(await syncNow(c).count(), 0, 'no sync-now button for a viewer while a run is active');
    await waitText(c.locator('[data-testid="last-result"]'), summary(ROWS, { created: ROWS }), { timeout: RUN_WAIT });
    assert.equal((await ferry.run(run.id)).status, 'succeeded');
    assert.equal(await syncNow(c).count(), 0);
    assert.equal(await c.locator('[data-testid="cancel"]').count(), 0);
});

browserTest('an operator cancels a running run: the notification ends red, cancelled', async (env) => {
    const { ferry, ana } = await slowFixture(env, { seconds: 15 });
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'roster');
    await syncNow(c).click();
    const runId = await runningNotificationId(page, 'Roster');
    await waitAttr(progressBar(c), 'aria-valuenow', (v) => Number(v) > 0);
    await c.locator('button[data-testid="cancel"]').click();
    const n = notification(page, runId);
    await waitAttr(n, 'data-state', 'failure');
    await waitText(n, /cancelled/i);
    await assertIdle(c);
    await waitCount(c.locator('[data-testid="progress"]'), 0);
    const run = await ferry.run(runId);
    assert.equal(run.status, 'cancelled');
    assert.equal(run.cancelled_by, 'ana');
    await waitText(n, run.ui_message);
    await env.shot(page, 'notification-cancelled');
});

browserTest('live: a run started in one window shows its progress and result in another, without a reload', async (env) => {
    const { ferry, ana } = await slowFixture(env);
    const one = await env.loggedIn(ferry, ana);
    const two = await env.loggedIn(ferry, ana); // another browser context: its own session
    const c2 = card(two, 'roster');
    await waitText(c2.locator('[data-testid="last-result"]'), 'Never run');
    let loads = 0;
    two.on('load', () => { loads++; });

    await syncNow(card(one, 'roster')).click();
    await assertSyncing(c2);
    const bar = progressBar(c2);
    await bar.waitFor({ state: 'visible' });
    const runId = await runningNotificationId(two, 'Roster');
    const samples = await sampleProgress(bar, async () => (await c2.locator('[data-testid="progress"]').count()) === 0);
    assertMovedForward(samples, 'the second window');
    const n = notification(two, runId);
    await waitAttr(n, 'data-state', 'success', { timeout: RUN_WAIT });
    await waitText(n, summary(ROWS, { created: ROWS }));
    await waitText(c2.locator('[data-testid="last-result"]'), summary(ROWS, { created: ROWS }));
    await assertIdle(c2);
    assert.equal(loads, 0, 'the second window was not reloaded');
});

browserTest('at 375 px wide the views fit the screen', async (env) => {
    const { ferry, ana } = await slowFixture(env, { seconds: 3 });
    const page = await env.newPage({ ferry, viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await page.goto(ferry.url('/'));
    await page.locator('[data-testid="login-form"]').waitFor({ state: 'visible' });
    assert.ok(await overflow() <= 0, `the login view is wider than the screen by ${await overflow()} px`);
    await env.shot(page, 'mobile-login');
    await env.login(page, ferry, ana);
    const c = card(page, 'roster');
    await syncNow(c).tap();
    const runId = await runningNotificationId(page, 'Roster');
    await waitAttr(progressBar(c), 'aria-valuenow', (v) => Number(v) > 0);
    assert.ok(await overflow() <= 0, `the syncs view is wider than the screen by ${await overflow()} px`);
    const box = await c.boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= 375, `the card fits: ${JSON.stringify(box)}`);
    await env.shot(page, 'mobile-syncs-running');
    await waitAttr(notification(page, runId), 'data-state', 'success', { timeout: RUN_WAIT });
    assert.ok(await overflow() <= 0, `with a notification the view is wider than the screen by ${await overflow()} px`);
    await env.shot(page, 'mobile-syncs-finished');
});

browserTest('a sync with tenants asks for one, runs for it, and names it in the history', async (env) => {
    env.writeCsv('exports/clinic-a.csv', PEOPLE_HEADER, peopleRows(3));
    env.writeCsv('exports/clinic-b.csv', PEOPLE_HEADER, peopleRows(2, 10));
    env.writeConfig({
        people: syncConfig('exports/{clinic}.csv', {
            title: 'People',
            extra: { tenant: { variable: 'clinic', column: 'clinic_id', values: ['clinic-a', 'clinic-b'] } },
        }),
    });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'people');
    const tenant = c.locator('[data-testid="tenant"]');
    await tenant.waitFor({ state: 'visible' });
    assert.equal(await c.locator('datalist option').count(), 2, 'the tenants are offered');
    await syncNow(c).click();
    await waitText(c.locator('[data-testid="card-message"]'), /Enter a tenant first/);
    await tenant.fill('clinic-b');
    await syncNow(c).click();
    // Three rows finish at once: the run's notification may already be green when seen.
    const n = page.locator('[data-testid="notification"][data-state="success"]', { hasText: 'People' });
    await n.first().waitFor({ state: 'visible', timeout: RUN_WAIT });
    const runId = Number(await n.first().getAttribute('data-run'));
    await waitText(notification(page, runId), summary(2, { created: 2 }));
    const run = await ferry.getJson(`/api/runs/${runId}`);
    assert.equal(run.tenant, 'clinic-b');
    await env.shot(page, 'syncs-tenant');
});

browserTest('a cron schedule\'s next run shows in the schedule\'s time zone', async (env) => {
    const src = await env.loopback();
    const url = src.csv('/people.csv', PEOPLE_HEADER, peopleRows(3));
    env.writeConfig({
        nightly: syncConfig(url, { title: 'Nightly', extra: { schedule: 'cron "0 2 * * *"', timezone: 'Asia/Jakarta' } }),
        hourly: syncConfig(url, { table: 'hourly', title: 'Hourly', extra: { schedule: 'every 1h' } }),
    }, { timezone: 'America/New_York' });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'nightly');
    // 02:00 on Jakarta's clock whatever the browser's own zone, named after it.
    await waitText(c.locator('[data-testid="schedule"]'), /next run (\w+, )?.*02:00 \(Asia\/Jakarta\)/);
    const iso = await c.locator('[data-testid="next-run"]').getAttribute('datetime');
    assert.equal(new Date(iso).getUTCHours(), 19, `02:00 in Jakarta is 19:00 UTC: ${iso}`);
    // An 'every' schedule is elapsed time: no zone, whatever the top level's timezone.
    const h = card(page, 'hourly');
    await waitText(h.locator('[data-testid="schedule"]'), /every 1h · next run/);
    assert.equal(await h.locator('[data-testid="next-run"]').count(), 0, 'no zoned time for an every schedule');
});
