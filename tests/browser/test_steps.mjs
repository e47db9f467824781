// A sync with steps (docs/ui.md): brands, then packages that look up their brand in the table
// the first step writes, in one run. The syncs card, the run page (its steps panel and the
// step of each change), the history and <ferry-sync> on another origin's page show one line
// per step with its counts, word for word; while a step executes they read "step 2 of 2:
// packages, 0%".
//
// Holding a run in its second step without sleeping: packages.csv is a named pipe the test
// holds open for reading and writing (so neither side's open waits). It writes the header
// before the run starts; Ferry opens every step's source and reads its header before the first
// step writes, runs the brands step, and then waits in the packages step for rows until the
// test writes them and closes the pipe. A pipe has no size, so that step's percent stays 0.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

import {
    assert, browserTest, card, csvText, notification, RUN_WAIT, runningNotificationId, until,
    waitAttr, waitCount, waitText,
} from './harness.mjs';

const BRANDS_HEADER = ['Code', 'Name'];
const BRANDS = [['BR-1', 'Sunrise'], ['BR-2', 'Harbour'], ['BR-3', 'Meadow']];
const PACKAGES_HEADER = ['Code', 'Name', 'Brand'];
// P4 names a brand no step writes (and markup, which must stay text).
const PACKAGES = [['P1', 'Basic', 'BR-1'], ['P2', 'Gold', 'BR-2'], ['P3', 'Field', 'BR-3'],
                  ['P4', 'Lost', '<b>BR-9</b>']];

const FIRST_LINES = ['brands: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed',
                     'packages: 3 created, 0 updated, 0 unchanged, 0 skipped, 1 failed'];
const FIRST_MESSAGE = 'Processed 3 brands: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed. ' +
                      'Processed 4 packages: 3 created, 0 updated, 0 unchanged, 0 skipped, 1 failed.';
const AGAIN_LINES = ['brands: 0 created, 0 updated, 3 unchanged, 0 skipped, 0 failed',
                     'packages: 0 created, 0 updated, 3 unchanged, 0 skipped, 1 failed'];
const AGAIN_MESSAGE = 'Processed 3 brands: 0 created, 0 updated, 3 unchanged, 0 skipped, 0 failed. ' +
                      'Processed 4 packages: 0 created, 0 updated, 3 unchanged, 0 skipped, 1 failed.';

/** The catalog sync: two steps, the second looking up each package's brand name. */
function catalogSync() {
    return {
        title: 'Brands & Packages',
        steps: {
            brands: {
                source: { url: 'brands.csv' },
                target: { table: 'brands', key: ['code'] },
                fields: { code: { column: 'Code' }, name: { column: 'Name' } },
            },
            packages: {
                source: { url: 'packages.csv' },
                target: { table: 'packages', key: ['code'] },
                fields: {
                    code: { column: 'Code' },
                    name: { column: 'Name' },
                    brand: { column: 'Brand', lookup: { table: 'brands', match: 'code', value: 'name' } },
                },
            },
        },
    };
}

function hostPage(ferry, token) {
    return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Catalog admin</title></head>
<body>
  <h1>Catalog</h1>
  <script type="module" src="${ferry.url('/ferry-sync.js')}"></script>
  <ferry-sync id="catalog" sync="catalog" token="${token}"></ferry-sync>
</body>
</html>
`;
}

/** brands.csv, a config with the catalog sync that allows the host page's origin, an operator
 * ana with a token, the server and the host page's route. */
async function fixture(env) {
    const host = await env.loopback();
    env.writeCsv('brands.csv', BRANDS_HEADER, BRANDS);
    env.writeConfig({ catalog: catalogSync() }, { cors_origins: [host.url('/').replace(/\/$/, '')] });
    const ana = await env.user('ana', 'operator');
    const token = await env.token('ana', 'catalog-admin');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8', body: hostPage(ferry, token) });
    return { ferry, ana, host };
}

/** The texts of the elements locator matches that are shown, whitespace collapsed. */
async function texts(locator) {
    const all = await locator.evaluateAll((els) => els.filter((e) => e.checkVisibility()).map((e) => e.innerText));
    return all.map((s) => s.replace(/\s+/g, ' ').trim());
}

/** Waits until the locator's element is shown and reads text, exactly. */
async function waitShown(locator, text, opts = {}) {
    let seen = '';
    await until(`${locator} to show ${JSON.stringify(text)}`, async () => {
        seen = (await locator.isVisible())
            ? (await locator.innerText({ timeout: 1000 })).replace(/\s+/g, ' ').trim() : '(not shown)';
        return seen === text;
    }, { ...opts, describe: () => JSON.stringify(seen) });
}

/** Waits until the texts of the shown elements of locator are want (in order); returns them. */
async function waitTexts(locator, want, opts = {}) {
    let seen = [];
    await until(`${locator} to read ${JSON.stringify(want)}`, async () => {
        seen = await texts(locator);
        return JSON.stringify(seen) === JSON.stringify(want);
    }, { ...opts, describe: () => JSON.stringify(seen) });
    return seen;
}

const stepLines = (scope) => scope.locator('[data-testid="steps"] [data-testid="step"]');

browserTest('a two-step run: the card, the run page, the history and <ferry-sync> show each step\'s counts', async (env) => {
    env.writeCsv('packages.csv', PACKAGES_HEADER, PACKAGES);
    const { ferry, ana, host } = await fixture(env);
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'catalog');
    await waitText(c.locator('[data-testid="sync-steps"]'), /^Steps: brands → packages$/);
    await waitText(c.locator('[data-testid="last-result"]'), 'Never run');
    assert.equal(await stepLines(c).count(), 0, 'no step lines before a run');

    await c.locator('[data-testid="sync-now"]').click();
    const last = c.locator('[data-testid="last-result"]');
    await waitText(last, FIRST_MESSAGE, { timeout: RUN_WAIT });
    await waitTexts(stepLines(last), FIRST_LINES);
    assert.deepEqual(await stepLines(last).evaluateAll((els) => els.map((e) => [e.dataset.step, e.dataset.status])),
                     [['brands', 'done'], ['packages', 'done']]);
    const runId = Number((await last.locator('a[href^="#/runs/"]').getAttribute('href')).split('/').pop());
    await waitText(notification(page, runId), FIRST_MESSAGE);
    const run = await ferry.run(runId);
    assert.deepEqual(run.steps.map((s) => s.name), ['brands', 'packages']);
    await env.shot(page, 'steps-card');

    // The run page: a Steps panel, and each change names its step before its key.
    await page.goto(ferry.url(`/#/runs/${runId}`));
    const detail = page.locator(`[data-testid="run-detail"][data-run="${runId}"]`);
    await waitText(detail.locator('[data-testid="ui-message"]'), FIRST_MESSAGE);
    await waitTexts(stepLines(detail.locator('[data-testid="run-steps"]')), FIRST_LINES);
    const rows = detail.locator('[data-testid="change-row"]');
    await waitAttr(detail.locator('[role="tab"][data-outcome="failed"]'), 'aria-selected', 'true');
    await waitCount(rows, 1);
    await waitText(rows.first(), /^packages · P4 row 5 /);
    await waitText(rows.first(), "brand '<b>BR-9</b>' not found in brands.code");
    assert.equal(await rows.first().locator('b').count(), 0, 'the value is text, not markup');
    await detail.locator('[role="tab"][data-outcome="created"]').click();
    await waitCount(rows, 6);
    assert.deepEqual(await texts(rows.locator('[data-testid="change-step"]')),
                     ['brands', 'brands', 'brands', 'packages', 'packages', 'packages']);
    await waitText(rows.nth(3), /^packages · P1\b/);
    await env.shot(page, 'steps-run');

    // The history: the run's counts, then each step's.
    await page.goto(ferry.url('/#/history'));
    const row = page.locator(`[data-testid="history-row"][data-run="${runId}"]`);
    await waitTexts(stepLines(row.locator('td.counts')), FIRST_LINES);

    // <ferry-sync> on another origin's page runs it again: the same lines, the run's counts.
    const other = await env.newPage({ ferry });
    await other.goto(host.url('/'));
    const button = other.locator('ferry-sync#catalog [data-testid="sync-now"]');
    await waitText(button, /^Sync now$/);
    await button.click();
    const message = other.locator('ferry-sync#catalog [part="message"]');
    await waitText(message, AGAIN_MESSAGE, { timeout: RUN_WAIT });
    const compSteps = other.locator('ferry-sync#catalog [part="steps"]');
    await waitTexts(compSteps.locator('[data-testid="step"]'), AGAIN_LINES);
    assert.equal(await compSteps.locator('[data-testid="step-progress"]').isVisible(), false,
                 'no step progress once the run ended');
    await env.shot(other, 'steps-component');
    // ... and the admin page's history row of that run, live.
    await page.goto(ferry.url('/#/syncs'));
    await waitTexts(stepLines(card(page, 'catalog').locator('[data-testid="last-result"]')), AGAIN_LINES);

    // Dismissing the component's message takes the step lines with it.
    await other.locator('ferry-sync#catalog button[part="dismiss"]').click();
    await until('the step lines to go with the message', async () => !(await compSteps.isVisible()));
});

browserTest('while the second step runs the card, the run page and <ferry-sync> read "step 2 of 2: packages, 0%"', async (env) => {
    const pipe = env.path('packages.csv');
    const made = spawnSync('mkfifo', [pipe], { encoding: 'utf8' });
    assert.equal(made.status, 0, `mkfifo: ${made.stderr}`);
    const feeds = [];
    /** Opens the pipe (read-write: no wait for Ferry) and writes the header. */
    const hold = async () => {
        const f = await fs.promises.open(pipe, 'r+');
        feeds.push(f);
        await f.write(csvText(PACKAGES_HEADER, []));
        return f;
    };
    try {
        const { ferry, ana, host } = await fixture(env);
        const other = await env.newPage({ ferry });
        await other.goto(host.url('/'));
        await waitText(other.locator('ferry-sync#catalog [data-testid="sync-now"]'), /^Sync now$/);
        const page = await env.loggedIn(ferry, ana);
        const c = card(page, 'catalog');

        let feed = await hold();
        await c.locator('[data-testid="sync-now"]').click();
        const runId = await runningNotificationId(page, 'Brands & Packages');
        const want = 'step 2 of 2: packages, 0%';
        const running = ['brands: 3 created, 0 updated, 0 unchanged, 0 skipped, 0 failed',
                         'packages: 0 created, 0 updated, 0 unchanged, 0 skipped, 0 failed (running)'];
        await waitShown(c.locator('[data-testid="progress"] [data-testid="step-progress"]'), want);
        await waitTexts(stepLines(c.locator('[data-testid="progress"]')), running);
        const held = await ferry.run(runId);
        assert.equal(held.status, 'running');
        assert.deepEqual(held.steps.map((s) => [s.status, s.percent]), [['done', 100], ['running', 0]]);
        await env.shot(page, 'steps-card-running');

        const comp = other.locator('ferry-sync#catalog');
        await waitShown(comp.locator('[data-testid="step-progress"]'), want);
        await waitTexts(comp.locator('[data-testid="step"]'), running);
        await env.shot(other, 'steps-component-running');

        await page.goto(ferry.url(`/#/runs/${runId}`));
        const detail = page.locator(`[data-testid="run-detail"][data-run="${runId}"]`);
        await waitShown(detail.locator('[data-testid="progress"] [data-testid="step-progress"]'), want);
        await waitTexts(stepLines(detail.locator('[data-testid="run-steps"]')), running);

        // The rows arrive and the pipe ends: the run finishes, and the progress goes.
        await feed.write(csvText(PACKAGES_HEADER, PACKAGES).split('\n').slice(1).join('\n'));
        await feed.close();
        await waitText(detail.locator('[data-testid="ui-message"]'), FIRST_MESSAGE, { timeout: RUN_WAIT });
        await waitTexts(stepLines(detail.locator('[data-testid="run-steps"]')), FIRST_LINES);
        assert.equal(await detail.locator('[data-testid="step-progress"]').count(), 0);
        await waitTexts(comp.locator('[data-testid="step"]'), FIRST_LINES);
        assert.equal(await comp.locator('[data-testid="step-progress"]').isVisible(), false);

        // Held again and cancelled in its second step: the first step rolled back with it.
        await page.goto(ferry.url('/#/syncs'));
        feed = await hold();
        await c.locator('[data-testid="sync-now"]').click();
        await waitShown(c.locator('[data-testid="progress"] [data-testid="step-progress"]'), want);
        await c.locator('button[data-testid="cancel"]').click();
        const last = c.locator('[data-testid="last-result"]');
        await waitText(last, /Cancelled/, { timeout: RUN_WAIT });
        await waitTexts(stepLines(last), ['brands: 0 created, 0 updated, 0 unchanged, 0 skipped, 0 failed (rolled back)',
                                          'packages: 0 created, 0 updated, 0 unchanged, 0 skipped, 0 failed (cancelled)']);
        await env.shot(page, 'steps-card-cancelled');
    } finally {
        for (const f of feeds) await f.close().catch(() => {});
    }
});
