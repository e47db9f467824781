// The history, run detail and insights views (docs/ui.md): filters kept in the hash,
// pagination over the API's cursor, export links that carry the filters (and download the
// filtered rows), a run's changes by outcome (updated: old → new), and a chart per sync.
//
// Runs are made quickly through the API with the admin token, from local CSV files.

import fs from 'node:fs';
import {
    assert, browserTest, csvObjects, PEOPLE_HEADER, peopleRows, RUN_WAIT, syncConfig, until,
    waitAttr, waitCount, waitText,
} from './harness.mjs';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'];

/** alpha (3 good rows, always succeeds) and beta (beta.csv, present for some runs and missing
 * for others): 18 alpha runs, 5 beta successes and 9 beta failures, interleaved. */
async function historyFixture(env) {
    env.writeCsv('alpha.csv', PEOPLE_HEADER, peopleRows(3));
    env.writeConfig({
        alpha: syncConfig('alpha.csv', { title: 'Alpha', table: 'alpha' }),
        beta: syncConfig('beta.csv', { title: 'Beta', table: 'beta' }),
    });
    const vera = await env.user('vera', 'viewer');
    const ferry = await env.serve();
    const plan = [];
    for (let i = 0; i < 18; i++) plan.push(['alpha']);
    for (let i = 0; i < 14; i++) plan.splice(2 * i + 1, 0, ['beta', i % 3 === 0]);
    const runs = [];
    for (const [sync, present] of plan) {
        if (sync === 'beta') {
            if (present) env.writeCsv('beta.csv', PEOPLE_HEADER, peopleRows(2));
            else fs.rmSync(env.path('beta.csv'), { force: true });
        }
        runs.push(await ferry.runToEnd(sync));
    }
    return { ferry, vera, runs: runs.reverse() }; // newest first, as the views list them
}

/** A case-insensitive RegExp matching s literally. */
const ci = (s) => new RegExp(s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');

const rowIds = async (rows) => (await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-run')))).map(Number);

browserTest('history: filters by sync and status, pages of 25, export links with the filters', async (env) => {
    const { ferry, vera, runs } = await historyFixture(env);
    assert.equal(runs.length, 32);
    const failedBeta = runs.filter((r) => r.sync === 'beta' && r.status === 'failed');
    assert.equal(failedBeta.length, 9);
    assert.equal(runs.filter((r) => r.sync === 'beta').length, 14);

    const page = await env.loggedIn(ferry, vera);
    await page.locator('a[data-testid="nav-history"]').click();
    await until('the hash to be #/history', async () => new URL(page.url()).hash.startsWith('#/history'));
    const table = page.locator('[data-testid="history-table"]');
    const rows = table.locator('tr[data-testid="history-row"]');
    const next = page.locator('button[data-testid="next-page"]');
    const prev = page.locator('button[data-testid="prev-page"]');

    // Page 1: the newest 25; page 2: the other 7.
    await waitCount(rows, 25);
    assert.deepEqual(await rowIds(rows), runs.slice(0, 25).map((r) => r.id));
    assert.ok(await prev.isDisabled(), 'no previous page on the first');
    assert.ok(!(await next.isDisabled()), 'a next page after the first');
    const first = runs[0];
    const firstRow = rows.first();
    await waitText(firstRow, String(first.id));
    await waitText(firstRow, ci(first.sync)); // the sync's name or its title (Alpha)
    await waitText(firstRow, ci(first.status)); // a status label may be capitalized
    await waitText(firstRow, first.user);
    await env.shot(page, 'history');
    await next.click();
    await waitCount(rows, 7);
    assert.deepEqual(await rowIds(rows), runs.slice(25).map((r) => r.id));
    assert.ok(await next.isDisabled(), 'no next page on the last');
    assert.ok(!(await prev.isDisabled()), 'a previous page after the first');
    await prev.click();
    await waitCount(rows, 25);
    assert.deepEqual(await rowIds(rows), runs.slice(0, 25).map((r) => r.id));

    // The filters: All plus each sync, All plus the six statuses.
    const form = page.locator('form[data-testid="history-filters"]');
    const syncOptions = await form.locator('select[name="sync"] option').allInnerTexts();
    assert.ok(syncOptions.some((o) => /all/i.test(o)) && syncOptions.some((o) => o.includes('alpha') || o.includes('Alpha'))
              && syncOptions.some((o) => o.includes('beta') || o.includes('Beta')), `sync options: ${syncOptions}`);
    const statusValues = await form.locator('select[name="status"] option').evaluateAll((os) => os.map((o) => o.value));
    for (const s of STATUSES) assert.ok(statusValues.includes(s), `status option ${s}: ${statusValues}`);
    for (const name of ['user', 'tenant']) assert.equal(await form.locator(`input[name="${name}"]`).count(), 1, name);
    for (const name of ['from', 'to']) assert.equal(await form.locator(`input[name="${name}"]`).getAttribute('type'), 'date', name);

    await form.locator('select[name="sync"]').selectOption('beta');
    await form.locator('select[name="status"]').selectOption('failed');
    await form.getByRole('button', { name: 'Apply' }).click();
    await waitCount(rows, 9);
    assert.deepEqual(await rowIds(rows), failedBeta.map((r) => r.id));
    for (const text of await rows.allInnerTexts()) {
        assert.match(text, /beta/i);
        assert.match(text, /failed/i);
    }
    assert.ok(await next.isDisabled(), 'one page of filtered runs');
    const hash = new URL(page.url()).hash;
    assert.match(hash, /^#\/history\?/, hash);
    const hashParams = new URLSearchParams(hash.split('?')[1]);
    assert.equal(hashParams.get('sync'), 'beta', hash);
    assert.equal(hashParams.get('status'), 'failed', hash);
    await env.shot(page, 'history-filtered');

    // The export links carry the filters, and download the filtered runs with the session.
    for (const format of ['csv', 'json']) {
        const link = page.locator(`a[data-testid="export-${format}"]`);
        const href = new URL(await link.getAttribute('href'), page.url());
        assert.equal(href.origin, ferry.origin, `${format}: ${href}`);
        assert.equal(href.pathname, '/api/runs/export', `${format}: ${href}`);
        assert.equal(href.searchParams.get('format'), format, `${href}`);
        assert.equal(href.searchParams.get('sync'), 'beta', `${href}`);
        assert.equal(href.searchParams.get('status'), 'failed', `${href}`);
        const answer = await page.request.get(href.href);
        assert.equal(answer.status(), 200, `${href}: ${answer.status()}`);
        const text = await answer.text();
        const got = format === 'csv' ? csvObjects(text) : JSON.parse(text);
        assert.deepEqual(got.map((r) => Number(r.id)), failedBeta.map((r) => r.id),
                         `${format} export of sync=beta&status=failed`);
        for (const r of got) assert.deepEqual([r.sync, r.status], ['beta', 'failed']);
    }

    // A refresh keeps the filters (they are in the hash).
    await page.reload();
    await waitCount(rows, 9);
    assert.equal(await form.locator('select[name="sync"]').inputValue(), 'beta');
    assert.equal(await form.locator('select[name="status"]').inputValue(), 'failed');

    // Only a status: failures of every sync (here beta's, the only ones), one page.
    await form.locator('select[name="sync"]').selectOption({ index: 0 });
    await form.getByRole('button', { name: 'Apply' }).click();
    await until('the hash to drop the sync filter', async () => !new URL(page.url()).hash.includes('sync=beta'));
    await waitCount(rows, 9);
    // Only a sync: alpha's 18 runs.
    await form.locator('select[name="sync"]').selectOption('alpha');
    await form.locator('select[name="status"]').selectOption({ index: 0 });
    await form.getByRole('button', { name: 'Apply' }).click();
    await waitCount(rows, 18);
    assert.deepEqual(await rowIds(rows), runs.filter((r) => r.sync === 'alpha').map((r) => r.id));

    // A row opens the run's detail.
    const target = runs.find((r) => r.sync === 'alpha');
    await page.locator(`tr[data-testid="history-row"][data-run="${target.id}"]`).click();
    await until(`the hash to be #/runs/${target.id}`, async () => new URL(page.url()).hash === `#/runs/${target.id}`);
    await page.locator(`[data-testid="run-detail"][data-run="${target.id}"]`).waitFor({ state: 'visible' });
});

browserTest('run detail: tabs by outcome with counts; updated rows show old → new; Load more', async (env) => {
    const header = ['id', 'name', 'email', 'kind'];
    const rowsOf = (n) => peopleRows(n).map((r) => [...r, 'staff']);
    // More created rows than a page of the API holds (at most 1,000), and not a multiple of
    // a round page size, so the last page is short and ends the cursor.
    const N = 1037;
    const lastKey = `P${String(N - 1).padStart(7, '0')}`;
    env.writeCsv('staff.csv', header, rowsOf(N));
    env.writeConfig({
        staff: syncConfig('staff.csv', {
            title: 'Staff', table: 'staff', onMissing: 'delete',
            fields: { id: {}, name: {}, email: { type: 'email' }, kind: {} },
            skip: { kind: { not_in: ['staff'] } },
        }),
    });
    const vera = await env.user('vera', 'viewer');
    const ferry = await env.serve();
    const initial = await ferry.runToEnd('staff');
    assert.equal(initial.counts.created, N, JSON.stringify(initial));

    // The second version: two renamed, one bad e-mail, one not staff, one gone, one new.
    const second = rowsOf(N - 1);
    second[0][1] = 'Renamed 0';
    second[1][1] = 'Renamed 1';
    second[2][2] = 'not-an-email';
    second[3][3] = 'contractor';
    second.push(['P0005000', 'Person 5000', 'p5000@example.com', 'staff']);
    env.writeCsv('staff.csv', header, second);
    const run = await ferry.runToEnd('staff');
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.counts.updated, 2, JSON.stringify(run.counts));
    assert.equal(run.counts.failed, 1, JSON.stringify(run.counts));
    assert.equal(run.counts.skipped, 1, JSON.stringify(run.counts));
    assert.ok(run.counts.created >= 1 && run.counts.deleted >= 1, JSON.stringify(run.counts));

    const page = await env.loggedIn(ferry, vera);
    await page.goto(ferry.url(`/#/runs/${run.id}`));
    const detail = page.locator(`[data-testid="run-detail"][data-run="${run.id}"]`);
    await waitText(detail, run.ui_message);
    await waitText(detail, /succeeded/i);
    await waitText(detail, run.user);
    const tabs = detail.locator('[role="tablist"] [role="tab"]');
    const outcomes = await tabs.evaluateAll((ts) => ts.map((t) => t.getAttribute('data-outcome')));
    for (const o of ['created', 'updated', 'skipped', 'failed', 'deleted']) {
        assert.ok(outcomes.includes(o), `a tab for ${o}: ${outcomes}`);
        await waitText(detail.locator(`[role="tab"][data-outcome="${o}"]`), new RegExp(`\\b${run.counts[o]}\\b`));
    }
    const panel = detail.locator('[role="tabpanel"]');
    const changeRows = panel.locator('[data-testid="change-row"]');

    await detail.locator('[role="tab"][data-outcome="updated"]').click();
    await waitAttr(detail.locator('[role="tab"][data-outcome="updated"]'), 'aria-selected', 'true');
    await waitCount(changeRows, 2);
    await waitText(changeRows.filter({ hasText: 'P0000000' }), /Person 0\s*→\s*Renamed 0/);
    await waitText(changeRows.filter({ hasText: 'P0000001' }), /Person 1\s*→\s*Renamed 1/);
    await env.shot(page, 'run-detail');

    const api = await ferry.getJson(`/api/runs/${run.id}/changes?outcome=failed`);
    await detail.locator('[role="tab"][data-outcome="failed"]').click();
    await waitCount(changeRows, 1);
    await waitText(changeRows, 'P0000002');
    await waitText(changeRows, api.changes[0].reason);
    const skipped = await ferry.getJson(`/api/runs/${run.id}/changes?outcome=skipped`);
    await detail.locator('[role="tab"][data-outcome="skipped"]').click();
    await waitCount(changeRows, 1);
    await waitText(changeRows, skipped.changes[0].reason);
    await detail.locator('[role="tab"][data-outcome="deleted"]').click();
    await waitCount(changeRows, run.counts.deleted);
    await changeRows.filter({ hasText: lastKey }).waitFor({ state: 'visible' });

    // The first run's created rows take more than one page: Load more until they are all
    // there.
    await page.goto(ferry.url(`/#/runs/${initial.id}`));
    const first = page.locator(`[data-testid="run-detail"][data-run="${initial.id}"]`);
    await first.locator('[role="tab"][data-outcome="created"]').click();
    const created = first.locator('[role="tabpanel"] [data-testid="change-row"]');
    const more = first.locator('[data-testid="more-changes"]');
    let shown = await waitCount(created, (n) => n > 0);
    assert.ok(shown < N, `the first page shows ${shown} of ${N}`);
    await more.waitFor({ state: 'visible' });
    for (let i = 0; i < 20 && (await more.count()) > 0; i++) {
        await more.click();
        const before = shown;
        await until('Load more to add rows', async () => (shown = await created.count()) > before);
    }
    assert.equal(shown, N, 'Load more reached every created row');
    await waitCount(more, 0);
});

browserTest('insights: a chart per sync, the success rate and the top failure reasons', async (env) => {
    env.writeCsv('alpha.csv', PEOPLE_HEADER, [...peopleRows(5), ['X1', 'Bad One', 'nope'], ['X2', 'Bad Two', 'nada']]);
    env.writeConfig({
        alpha: syncConfig('alpha.csv', { title: 'Alpha', table: 'alpha' }),
        beta: syncConfig('beta.csv', { title: 'Beta', table: 'beta' }),
    });
    const vera = await env.user('vera', 'viewer');
    const ferry = await env.serve();
    for (let i = 0; i < 3; i++) await ferry.runToEnd('alpha');
    await ferry.runToEnd('beta'); // no beta.csv: fails
    env.writeCsv('beta.csv', PEOPLE_HEADER, peopleRows(2));
    await ferry.runToEnd('beta');
    const stats = (await ferry.getJson('/api/stats')).syncs;

    const page = await env.loggedIn(ferry, vera);
    await page.locator('a[data-testid="nav-insights"]').click();
    await until('the hash to be #/insights', async () => new URL(page.url()).hash.startsWith('#/insights'));
    for (const sync of ['alpha', 'beta']) {
        const c = page.locator(`[data-testid="insights-card"][data-sync="${sync}"]`);
        await c.waitFor({ state: 'visible' });
        await waitCount(c.locator('svg'), (n) => n >= 1);
        const box = await c.locator('svg').first().boundingBox();
        assert.ok(box && box.width > 0 && box.height > 0, `${sync}'s chart has a size: ${JSON.stringify(box)}`);
        const rate = await waitText(c.locator('[data-testid="success-rate"]'), /\d+(\.\d+)?\s*%/);
        const shown = Number(/(\d+(?:\.\d+)?)\s*%/.exec(rate)[1]);
        const want = stats[sync].success_rate * 100;
        assert.ok(Math.abs(shown - want) <= 1, `${sync}'s success rate shows ${rate}, the API says ${want}%`);
    }
    const reasons = stats.alpha.top_failure_reasons;
    assert.ok(reasons.length > 0, JSON.stringify(stats.alpha));
    const list = page.locator('[data-testid="insights-card"][data-sync="alpha"] [data-testid="failure-reasons"]');
    await waitText(list, reasons[0].reason);
    await waitText(list, String(reasons[0].count));
    await env.shot(page, 'insights');
});

// A run that ends while the history view is open shows up in it without a reload.
browserTest('history updates live when a run finishes', async (env) => {
    env.writeCsv('alpha.csv', PEOPLE_HEADER, peopleRows(3));
    env.writeConfig({ alpha: syncConfig('alpha.csv', { title: 'Alpha', table: 'alpha' }) });
    const vera = await env.user('vera', 'viewer');
    const ferry = await env.serve();
    await ferry.runToEnd('alpha');
    const page = await env.loggedIn(ferry, vera);
    await page.locator('a[data-testid="nav-history"]').click();
    const rows = page.locator('[data-testid="history-table"] tr[data-testid="history-row"]');
    await waitCount(rows, 1);
    const run = await ferry.runToEnd('alpha');
    await page.locator(`tr[data-testid="history-row"][data-run="${run.id}"]`).waitFor({ state: 'visible', timeout: RUN_WAIT });
    await waitCount(rows, 2);
});
