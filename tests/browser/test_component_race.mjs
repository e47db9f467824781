// A run that finishes in milliseconds (a few rows of master data) ends before the answer to the
// click's POST reaches the browser: run.finished arrives on the event stream first. The
// component and the page's sync card must show such a run finished whatever order the answers
// arrive in, never "Syncing..." for good.
//
// The tests hold the real POST answer back with Playwright's page.route: the request goes to
// Ferry (route.fetch), the test waits until the run has ended and the page has shown the
// finished run from the stream, and only then hands the answer to the page (route.fulfill).
// A second test holds the event stream's request back instead, until the run has ended and
// the POST has answered, so the stream never carries the run's events.

import {
    assert, browserTest, card, componentHostPage, PEOPLE_HEADER, peopleRows, RUN_WAIT, summary, syncConfig, until,
    waitAttr, waitText, WAIT,
} from './harness.mjs';

/** A sync "quick" of 3 rows from a loopback server, an operator ana with a token, ferry, and a
 * host page on another origin with <ferry-sync sync="quick">. */
async function fixture(env) {
    const host = await env.loopback();
    const src = await env.loopback();
    env.writeConfig({ quick: syncConfig(src.csv('/quick.csv', PEOPLE_HEADER, peopleRows(3)), { title: 'Quick' }) },
                    { cors_origins: [host.url('/').replace(/\/$/, '')] });
    const ana = await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8', body: componentHostPage(ferry,
        `<ferry-sync id="quick" sync="quick" token="${token}"></ferry-sync>`) });
    return { ferry, host, ana };
}

const POST_RUNS = /\/api\/syncs\/quick\/runs$/;

/** Holds back the answer of the page's POST /api/syncs/quick/runs until waitFor(run) resolves
 * (run: the answer's JSON); resolves to {answered}, a promise of that run settled once the
 * answer is handed to the page. */
async function holdPostAnswer(page, waitFor) {
    let settle;
    const done = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    await page.route(POST_RUNS, async (route) => {
        if (route.request().method() !== 'POST') return route.continue();
        try {
            const response = await route.fetch();
            const run = await response.json();
            await waitFor(run);
            await route.fulfill({ response });
            settle.resolve(run);
        } catch (e) {
            settle.reject(e);
            await route.abort().catch(() => {});
        }
    });
    return { answered: done };
}

const button = (page) => page.locator('ferry-sync#quick [data-testid="sync-now"]');
const message = (page) => page.locator('ferry-sync#quick [part="message"]');

/** The component's idle button: "Sync now", enabled, not busy. */
async function assertComponentIdle(page) {
    await waitText(button(page), /^Sync now$/);
    await until('the button to be enabled', async () => !(await button(page).isDisabled()));
    assert.equal(await button(page).getAttribute('aria-busy'), null, 'not aria-busy once the run ended');
    assert.equal(await page.locator('ferry-sync#quick [part="progress"]').isVisible(), false,
                 'no progress bar once the run ended');
}

browserTest('<ferry-sync>: a run that finished before the POST answered is shown finished', async (env) => {
    const { ferry, host } = await fixture(env);
    const page = await env.newPage({ ferry });
    const streaming = page.waitForResponse((r) => /\/api\/events\?sync=quick/.test(r.url()), { timeout: WAIT });
    await page.goto(host.url('/'));
    await waitText(button(page), /^Sync now$/);
    await streaming; // the stream is open: it carries the run's events

    const { answered } = await holdPostAnswer(page, async (run) => {
        await ferry.waitRun(run.id);
        await waitText(message(page), summary(3, { created: 3 }), { timeout: RUN_WAIT });
        assert.equal(run.status, 'queued', 'the held answer is the queued run');
    });
    await button(page).click();
    const run = await answered;
    await assertComponentIdle(page);
    await waitText(message(page), summary(3, { created: 3 }));
    assert.equal(await message(page).getAttribute('data-state'), 'success');
    const events = await page.evaluate(() => window.ferryEvents);
    assert.deepEqual(events.filter((e) => e.type !== 'ferry:progress').map((e) => [e.type, e.id, e.status]),
                     [['ferry:started', run.id, 'queued'], ['ferry:finished', run.id, 'succeeded']],
                     `one started and one finished, in order: ${JSON.stringify(events)}`);
    assert.equal((await page.evaluate(() => document.querySelector('#quick').run.status)), 'succeeded');

    // And the button works again: a second click starts a second run.
    await page.unroute(POST_RUNS);
    await button(page).click();
    await until('a second run to end', async () => {
        const evs = await page.evaluate(() => window.ferryEvents);
        return evs.filter((e) => e.type === 'ferry:finished').length === 2;
    }, { timeout: RUN_WAIT });
    await assertComponentIdle(page);
});

browserTest('<ferry-sync>: a run that ended before the event stream connected is shown finished', async (env) => {
    const { ferry, host } = await fixture(env);
    const page = await env.newPage({ ferry });
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    await page.route(/\/api\/events\?sync=quick/, async (route) => {
        await released;
        await route.continue();
    });
    let runId = null;
    await page.route(POST_RUNS, async (route) => {
        const response = await route.fetch();
        runId = (await response.json()).id;
        await ferry.waitRun(runId);
        await route.fulfill({ response });
    });
    await page.goto(host.url('/'));
    await waitText(button(page), /^Sync now$/);
    await button(page).click();
    await until('the POST to be answered', async () => runId !== null &&
                (await page.evaluate(() => window.ferryEvents.some((e) => e.type === 'ferry:started'))));
    release(); // the stream starts now: it carries nothing of the run, which has ended
    await waitText(message(page), summary(3, { created: 3 }), { timeout: RUN_WAIT });
    await assertComponentIdle(page);
    const events = await page.evaluate(() => window.ferryEvents);
    assert.deepEqual(events.filter((e) => e.type === 'ferry:finished').map((e) => e.id), [runId]);
});

browserTest('the sync card: a run that finished before the POST answered is shown finished', async (env) => {
    const { ferry, ana } = await fixture(env);
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'quick');
    await waitText(c.locator('[data-testid="sync-now"]'), /^Sync now$/);
    await waitText(page.locator('[data-testid="live-status"]'), 'Live');

    const { answered } = await holdPostAnswer(page, async (run) => {
        await ferry.waitRun(run.id);
        await waitText(c.locator('[data-testid="last-result"]'), summary(3, { created: 3 }), { timeout: RUN_WAIT });
    });
    await c.locator('[data-testid="sync-now"]').click();
    const run = await answered;
    await waitText(c.locator('[data-testid="sync-now"]'), /^Sync now$/);
    await until('the card\'s button to be enabled', async () => !(await c.locator('[data-testid="sync-now"]').isDisabled()));
    assert.equal(await c.locator('[data-testid="progress"]').count(), 0, 'no progress once the run ended');
    const n = page.locator(`[data-testid="notification"][data-run="${run.id}"]`);
    await waitText(n, summary(3, { created: 3 }));
    assert.equal(await n.getAttribute('data-state'), 'success');
});

browserTest('the sync card: a run that ended before the event stream connected is shown finished', async (env) => {
    const { ferry, ana } = await fixture(env);
    const page = await env.newPage({ ferry });
    let release;
    const released = new Promise((resolve) => { release = resolve; });
    await page.route(/\/api\/events(\?|$)/, async (route) => {
        await released;
        await route.continue();
    });
    await env.login(page, ferry, ana);
    const c = card(page, 'quick');
    await waitText(c.locator('[data-testid="sync-now"]'), /^Sync now$/);
    assert.notEqual(await page.locator('[data-testid="live-status"]').innerText(), 'Live');
    await c.locator('[data-testid="sync-now"]').click();
    const runId = await until('the POST to be answered', async () => {
        const runs = (await ferry.getJson('/api/runs?sync=quick')).runs;
        return runs.length === 1 ? runs[0].id : null;
    });
    await ferry.waitRun(runId);
    await page.locator(`[data-testid="notification"][data-run="${runId}"]`).waitFor({ state: 'visible' });
    release(); // the stream starts now: it carries nothing of the run, which has ended
    await waitText(page.locator('[data-testid="live-status"]'), 'Live');
    const n = page.locator(`[data-testid="notification"][data-run="${runId}"]`);
    await waitAttr(n, 'data-state', 'success', { timeout: RUN_WAIT });
    await waitText(c.locator('[data-testid="sync-now"]'), /^Sync now$/);
    assert.equal(await c.locator('[data-testid="progress"]').count(), 0, 'no progress once the run ended');
    await waitText(c.locator('[data-testid="last-result"]'), summary(3, { created: 3 }));
});
