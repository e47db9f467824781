// Held runs on the page and in <ferry-sync> (docs/ui.md, docs/embedding.md, docs/review.md):
// a preview from a sync card is held whatever it would do; the run page shows its change set
// (the reason, counts per outcome, each record's diff), filtered by outcome and by field, and
// approving it applies exactly that change set. A run the guard holds (max_updated) is
// rejected with a comment; a viewer sees the decision's buttons disabled; an operator cannot
// approve a change to a protected field. The component previews, approves and rejects. A
// succeeded run is reverted from its page (a new run, trigger revert, that puts the rows back).
//
// The table is checked through the API: after an approval, a plain run of the same source
// finds every record unchanged; after a rejection it still finds the changes to make.

import {
    assert, browserTest, card, componentHostPage, csvText, PEOPLE_HEADER, peopleRows, RUN_WAIT,
    syncConfig, until, waitText,
} from './harness.mjs';

const held = (r) => r.status === 'held';
const ended = (r) => !['queued', 'running'].includes(r.status);

/** The people of the first run, 10 of them; edit(rows) changes a copy for the next. */
function people(edit) {
    const rows = peopleRows(10).map((r) => [...r]);
    if (edit) edit(rows);
    return csvText(PEOPLE_HEADER, rows);
}

/** Three names and one e-mail changed, one person added: 4 updated, 1 created, 6 unchanged. */
function edited(rows) {
    for (const r of rows.slice(0, 3)) r[1] += ' (moved)';
    rows[3][2] = 'new3@example.com';
    rows.push(['P0000010', 'Person 10', 'p10@example.com']);
}

/** A sync "people" over a loopback CSV, loaded once; returns {src, ferry, setCsv}. */
async function loaded(env, extra = {}, top = {}) {
    const src = await env.loopback();
    const setCsv = (body) => src.route('/people.csv', { body });
    setCsv(people());
    env.writeConfig({ people: syncConfig(src.url('/people.csv'), { title: 'People', extra }) }, top);
    const ferry = await env.serve();
    const first = await ferry.runToEnd('people');
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    return { src, ferry, setCsv };
}

/** The id of the newest run of sync people once it satisfies pred. */
async function newestRun(ferry, after, pred) {
    let run = null;
    await until('a new run of people', async () => {
        const { runs } = await ferry.getJson('/api/runs?sync=people&limit=5');
        run = runs.find((r) => r.id > after);
        return run && pred(run);
    }, { timeout: RUN_WAIT, describe: () => JSON.stringify(run) });
    return run;
}

/** Starts a run of people with the admin token and waits until it is no longer active (held
 *  is an end for now). */
async function runToHold(ferry) {
    return ferry.waitRun((await ferry.startRun('people')).id, ended);
}

/** Another run while one is held is refused with 409 and that run: the browser logs it. */
function allow409(env) {
    env.allowConsole(/status of 409/, /\/api\/syncs\/people\/runs$/);
}

const visibleRows = (page) => page.locator('[data-testid="change-row"]:visible');

browserTest('a preview from the page is held, reviewed by outcome and field, and approving applies it', async (env) => {
    const { ferry, setCsv } = await loaded(env);
    const ana = await env.user('ana', 'operator');
    allow409(env);
    setCsv(people(edited));
    const page = await env.loggedIn(ferry, ana);
    const c = card(page, 'people');
    const first = (await ferry.getJson('/api/runs?sync=people&limit=1')).runs[0];
    await c.locator('[data-testid="preview-sync"]').click();
    const run = await newestRun(ferry, first.id, held);
    assert.equal(run.preview, true);
    assert.equal(run.held_reason, 'a preview: nothing is applied until it is approved');

    // The card says the sync is held and links to the run; Sync now answers with that run.
    await waitText(c.locator('[data-testid="held-note"]'), /Held for review: a preview/);
    await c.locator('[data-testid="sync-now"]').click();
    await waitText(c.locator('[data-testid="card-message"]'), /A run is held for review: a preview/);
    assert.equal(await c.locator('[data-testid="card-message"]').getAttribute('role'), 'status');
    await c.locator('[data-testid="card-message"] [data-testid="held-link"]').click();

    const review = page.locator('[data-testid="review"]');
    await waitText(review.locator('[data-testid="held-reason"]'), 'a preview: nothing is applied until it is approved');
    await waitText(page.locator('[data-testid="run-status"]'), 'Held');
    await waitText(review.locator('[data-testid="review-counts"]'), /1 created, 4 updated, 6 unchanged/);
    // By outcome: the updated records first, each with its diff.
    await until('4 updated rows', async () => (await visibleRows(page).count()) === 4);
    const moved = page.locator('[data-testid="change-row"]', { hasText: 'P0000000' });
    await waitText(moved.locator('.diff'), /name: Person 0 → Person 0 \(moved\)/);
    await env.shot(page, 'review-preview');
    // By field: only the record whose diff names email.
    await page.locator('[data-testid="change-field"]').selectOption('email');
    await until('1 row changing email', async () => (await visibleRows(page).count()) === 1);
    await waitText(visibleRows(page).first(), /P0000003/);
    await waitText(page.locator('[data-testid="field-note"]'), /1 of the 4 records loaded change email/);
    assert.match(page.url(), /field=email/);
    await page.locator('[data-testid="change-field"]').selectOption('');
    await until('4 rows again', async () => (await visibleRows(page).count()) === 4);
    await page.locator('[role="tab"][data-outcome="created"]').click();
    await until('1 created row', async () => (await visibleRows(page).count()) === 1);
    await waitText(visibleRows(page).first(), /P0000010/);

    // Approve: the view follows the run to its end.
    await review.locator('[data-testid="review-comment"]').fill('names checked');
    await review.locator('[data-testid="approve-run"]').click();
    await waitText(page.locator('[data-testid="run-status"]'), 'Succeeded', { timeout: RUN_WAIT });
    await waitText(page.locator('[data-testid="decision"]'), /Approved by ana/);
    await waitText(page.locator('[data-testid="decision-comment"]'), 'names checked');
    const done = await ferry.run(run.id);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.decision, 'approved');
    assert.equal(done.decided_by, 'ana');
    assert.deepEqual([done.counts.created, done.counts.updated], [1, 4]);
    // The table holds the change set: the same source again changes nothing.
    const again = await ferry.runToEnd('people');
    assert.equal(again.status, 'succeeded', JSON.stringify(again));
    assert.deepEqual([again.counts.created, again.counts.updated, again.counts.unchanged], [0, 0, 11]);
});

browserTest('a run the guard holds is shown to a viewer without the decision, and rejected by an operator', async (env) => {
    const { ferry, setCsv } = await loaded(env, { guard: { max_updated: '30%' } });
    const vera = await env.user('vera', 'viewer');
    const ana = await env.user('ana', 'operator');
    setCsv(people((rows) => { for (const r of rows.slice(0, 5)) r[1] += ' (moved)'; }));
    const run = await runToHold(ferry);
    assert.equal(run.status, 'held', JSON.stringify(run));
    const reason = 'would update 5 of 10 people (50%), more than 30%';
    assert.equal(run.held_reason, reason);

    const viewer = await env.loggedIn(ferry, vera, { hash: `#/runs/${run.id}` });
    await waitText(viewer.locator('[data-testid="held-reason"]'), reason);
    assert.equal(await viewer.locator('[data-testid="approve-run"]').isDisabled(), true);
    assert.equal(await viewer.locator('[data-testid="reject-run"]').isDisabled(), true);
    await waitText(viewer.locator('[data-testid="review-note"]'), /Only an operator or an admin may decide/);
    assert.equal(await card(viewer, 'people').locator('[data-testid="preview-sync"]').count(), 0);

    const page = await env.loggedIn(ferry, ana, { hash: `#/runs/${run.id}` });
    const review = page.locator('[data-testid="review"]');
    await waitText(review.locator('[data-testid="held-reason"]'), reason);
    await until('5 updated rows', async () => (await visibleRows(page).count()) === 5);
    await env.shot(page, 'review-held');
    assert.equal(await review.locator('[data-testid="approve-run"]').isDisabled(), false);
    await review.locator('[data-testid="review-comment"]').fill('the export was cut');
    await review.locator('[data-testid="reject-run"]').click();
    await waitText(page.locator('[data-testid="run-status"]'), 'Rejected');
    await waitText(page.locator('[data-testid="decision"]'), /Rejected by ana/);
    await waitText(page.locator('[data-testid="decision-comment"]'), 'the export was cut');
    assert.equal(await page.locator('[data-testid="approve-run"]').count(), 0);
    const got = await ferry.run(run.id);
    assert.deepEqual([got.status, got.decision, got.decided_by, got.decision_comment],
                     ['rejected', 'rejected', 'ana', 'the export was cut']);
    // The history knows the new statuses: its filter keeps "rejected" and finds the run.
    await page.goto(ferry.url('/#/history?sync=people&status=rejected'));
    await page.locator(`[data-testid="history-row"][data-run="${run.id}"]`).waitFor();
    assert.equal(await page.locator('[data-testid="history-filters"] select[name="status"]').inputValue(), 'rejected');
    assert.equal(await page.locator('[data-testid="history-row"]').count(), 1);
    // Nothing was applied: the next run finds the same five updates (and is held again).
    const next = await runToHold(ferry);
    assert.deepEqual([next.status, next.counts.updated], ['held', 5]);
});

browserTest('only an admin may approve a change to a protected field', async (env) => {
    const { ferry, setCsv } = await loaded(env, { guard: { protect: ['email'] } });
    const ana = await env.user('ana', 'operator');
    setCsv(people((rows) => { rows[3][2] = 'new3@example.com'; }));
    const run = await runToHold(ferry);
    assert.deepEqual([run.status, run.held_admin], ['held', true], JSON.stringify(run));
    const page = await env.loggedIn(ferry, ana, { hash: `#/runs/${run.id}` });
    await waitText(page.locator('[data-testid="held-reason"]'), /protected field email/);
    assert.equal(await page.locator('[data-testid="approve-run"]').isDisabled(), true);
    assert.equal(await page.locator('[data-testid="reject-run"]').isDisabled(), false);
    await waitText(page.locator('[data-testid="review-note"]'), /only an admin may approve it/);
});

browserTest('<ferry-sync> previews a run, shows the held run and approves or rejects it', async (env) => {
    const host = await env.loopback();
    const { ferry, setCsv } = await loaded(env, {}, { cors_origins: [host.url('/').replace(/\/$/, '')] });
    await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    host.route('/', { type: 'text/html; charset=utf-8',
                      body: componentHostPage(ferry, `<ferry-sync id="people" sync="people" token="${token}"></ferry-sync>`) });
    setCsv(people(edited));
    const page = await env.newPage({ ferry });
    await page.goto(host.url('/'));
    const comp = page.locator('ferry-sync#people');
    await waitText(comp.locator('[data-testid="sync-now"]'), /^Sync now$/);
    const first = (await ferry.getJson('/api/runs?sync=people&limit=1')).runs[0];

    await comp.locator('[data-testid="preview-sync"]').click();
    const review = comp.locator('[data-testid="review"]');
    await waitText(review.locator('[data-testid="held-reason"]'), /a preview: nothing is applied until it is approved/,
                   { timeout: RUN_WAIT });
    await waitText(review.locator('[data-testid="review-counts"]'), /1 created, 4 updated, 6 unchanged/);
    await until('the first changes', async () => (await review.locator('[data-testid="review-change"]').count()) >= 5);
    await waitText(review.locator('[data-testid="review-change"]').first(), /→/);
    const run = await newestRun(ferry, first.id, held);
    await env.shot(page, 'component-held', { fullPage: false });
    // Another preview waits for the decision; Sync now answers with the held run, no error.
    assert.equal(await comp.locator('[data-testid="preview-sync"]').isDisabled(), true);
    allow409(env);
    await comp.locator('[data-testid="sync-now"]').click();
    await until('the held run again', async () =>
        (await comp.locator('[part~="message"]').getAttribute('data-state')) === 'held');
    await waitText(review.locator('[data-testid="held-reason"]'), /a preview/);

    await review.locator('[data-testid="review-comment"]').fill('from the host app');
    await review.locator('[data-testid="approve-run"]').click();
    let said = '';
    await until('the message to say it succeeded', async () => {
        said = `${await comp.locator('[part~="message"]').getAttribute('data-state')}: ` +
               `${await comp.locator('[part~="message"]').textContent()} / ${await review.textContent()}`;
        return said.startsWith('success:');
    }, { timeout: RUN_WAIT, describe: () => said });
    assert.equal(await review.isVisible(), false);
    const done = await ferry.run(run.id);
    assert.deepEqual([done.status, done.decision, done.decision_comment], ['succeeded', 'approved', 'from the host app']);
    const finished = await page.evaluate(() => window.ferryEvents.filter((e) => e.type === 'ferry:finished'));
    assert.equal(finished.at(-1).status, 'succeeded', JSON.stringify(finished));

    // A second preview (nothing changed since), rejected.
    await comp.locator('[data-testid="preview-sync"]').click();
    await waitText(review.locator('[data-testid="review-counts"]'), /11 unchanged/, { timeout: RUN_WAIT });
    const second = await newestRun(ferry, run.id, held);
    await review.locator('[data-testid="reject-run"]').click();
    await waitText(comp.locator('[part~="message-text"]'), /reject/i);
    const got = await ferry.run(second.id);
    assert.deepEqual([got.status, got.decision], ['rejected', 'rejected']);
    assert.equal(await review.isVisible(), false);
});

browserTest('a succeeded run is reverted from its page: a new run that puts the rows back', async (env) => {
    const { ferry, setCsv } = await loaded(env);
    const ana = await env.user('ana', 'operator');
    setCsv(people(edited));
    const changed = await ferry.runToEnd('people');
    assert.deepEqual([changed.counts.created, changed.counts.updated], [1, 4]);
    const page = await env.loggedIn(ferry, ana, { hash: `#/runs/${changed.id}` });
    page.once('dialog', (d) => d.accept('the sheet was sorted wrong'));
    await page.locator('[data-testid="revert"]').click();
    const revert = await newestRun(ferry, changed.id, ended);
    assert.equal(revert.status, 'succeeded', JSON.stringify(revert));
    assert.equal(revert.trigger, 'revert');
    assert.equal(revert.reverts, changed.id);
    assert.equal(revert.revert_comment, 'the sheet was sorted wrong');
    // The page opens the revert's own run.
    await until('the revert run page', async () => page.url().includes(`#/runs/${revert.id}`));
    await waitText(page.locator('[data-testid="run-status"]'), 'Succeeded');
    // The table is back as before: the edited source again has 1 to create and 4 to update.
    const again = await ferry.runToEnd('people');
    assert.deepEqual([again.counts.created, again.counts.updated, again.counts.unchanged], [1, 4, 6]);
});
