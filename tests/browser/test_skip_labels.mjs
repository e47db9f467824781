// Labelled skips and record names (docs/ui.md, docs/embedding.md): a therapists sheet whose
// flats are skipped under the label FLAT and whose records are named "{name} ({email})".
// The run page shows "FLAT skipped" beside Skipped (which leaves them out), counts them in
// the Skipped tab and leads each change row with the record's name; the history's counts
// read "1 skipped, 2 FLAT skipped"; <ferry-sync> on another site's page ends with the
// summary that counts them apart and hands them to ferry:finished.

import {
    assert, browserTest, RUN_WAIT, syncConfig, until, waitAttr, waitCount, waitText,
} from './harness.mjs';

const HEADER = ['Employee ID', 'Name', 'Email', 'Type'];
const ROWS = [
    ['T001', 'John Doe', 'john@example.com', 'Home'],
    ['T002', 'Sari', 'sari@example.com', 'Flat'],
    ['T003', 'Rina', '', 'Home'],
    ['T004', 'Bob Wilson', 'bob@', 'Home'],
    ['T005', 'Dewi', 'dewi@example.com', 'Flat'],
];
const SUMMARY = 'Processed 5 therapists: 1 created, 0 updated, 0 unchanged, 1 skipped, 2 FLAT skipped, 1 failed.';

function therapists(url) {
    return syncConfig(url, {
        title: 'Therapists', table: 'therapists', key: 'employee_id',
        fields: {
            employee_id: { column: 'Employee ID' }, name: { column: 'Name' },
            email: { column: 'Email', type: 'email' }, type: { column: 'Type' },
        },
        skip: { type: { in: ['Flat'], label: 'FLAT' }, email: { empty: true } },
        extra: { label: '{name} ({email})' },
    });
}

browserTest('run page: labelled skips counted apart, change rows named by label, history counts', async (env) => {
    env.writeCsv('therapists.csv', HEADER, ROWS);
    env.writeConfig({ therapists: therapists('therapists.csv') });
    const vera = await env.user('vera', 'viewer');
    const ferry = await env.serve();
    const run = await ferry.runToEnd('therapists');
    assert.equal(run.ui_message, SUMMARY, JSON.stringify(run));
    assert.deepEqual(run.skipped_by_label, { FLAT: 2 });

    const page = await env.loggedIn(ferry, vera);
    await page.goto(ferry.url(`/#/runs/${run.id}`));
    const detail = page.locator(`[data-testid="run-detail"][data-run="${run.id}"]`);
    await waitText(detail.locator('[data-testid="ui-message"]'), SUMMARY);
    const counts = detail.locator('[data-testid="run-counts"]');
    await waitText(counts.locator('[data-outcome="skipped"]'), /^Skipped 1$/);
    const flat = counts.locator('[data-testid="label-count"]');
    await waitCount(flat, 1);
    assert.equal(await flat.getAttribute('data-label'), 'FLAT');
    await waitText(flat, /^FLAT skipped 2$/);
    // FLAT follows Skipped, before Failed.
    const order = await counts.locator(':scope > div').evaluateAll(
        (ds) => ds.map((d) => d.getAttribute('data-label') || d.getAttribute('data-outcome')));
    assert.deepEqual(order, ['created', 'updated', 'unchanged', 'skipped', 'FLAT', 'failed', 'deleted']);
    await env.shot(page, 'skip-labels-counts');

    // The Skipped tab holds every skipped record, each named, its reason naming its label.
    const skippedTab = detail.locator('[role="tab"][data-outcome="skipped"]');
    await waitText(skippedTab, /\b3\b/);
    await skippedTab.click();
    await waitAttr(skippedTab, 'aria-selected', 'true');
    const changeRows = detail.locator('[role="tabpanel"] [data-testid="change-row"]');
    await waitCount(changeRows, 3);
    const names = await changeRows.locator('[data-testid="change-label"]').allInnerTexts();
    assert.deepEqual(names, ['Sari (sari@example.com)', 'Rina', 'Dewi (dewi@example.com)']);
    await waitText(changeRows.nth(0), "row 3: type 'Flat' in [Flat] (FLAT)");
    await waitText(changeRows.nth(0), 'T002');
    await env.shot(page, 'skip-labels-changes');

    const failedTab = detail.locator('[role="tab"][data-outcome="failed"]');
    await failedTab.click();
    await waitCount(changeRows, 1);
    await waitText(changeRows.locator('[data-testid="change-label"]'), /^Bob Wilson$/);
    await waitText(changeRows, "email 'bob@' is not an email address");

    await detail.locator('[role="tab"][data-outcome="created"]').click();
    await waitCount(changeRows, 1);
    await waitText(changeRows.locator('[data-testid="change-label"]'), /^John Doe \(john@example\.com\)$/);
    await waitText(changeRows, 'T001');

    // The log message names records too.
    await waitText(detail.locator('[data-testid="log-message"]'),
        "Skipped: Sari (sari@example.com) (type 'Flat' in [Flat] (FLAT)); Rina (email is empty); " +
        "Dewi (dewi@example.com) (type 'Flat' in [Flat] (FLAT)).");

    await page.goto(ferry.url('/#/history'));
    const row = page.locator(`[data-testid="history-row"][data-run="${run.id}"]`);
    await waitText(row.locator('td[data-label="Counts"]'), '1 created, 1 skipped, 2 FLAT skipped, 1 failed');
});

function hostPage(ferry, token) {
    return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Host app</title></head>
<body>
  <h1>Therapists</h1>
  <script>
    window.ferryFinished = [];
    document.addEventListener('ferry:finished', (e) => window.ferryFinished.push(e.detail));
  </script>
  <script type="module" src="${ferry.url('/ferry-sync.js')}"></script>
  <ferry-sync id="therapists" sync="therapists" token="${token}"></ferry-sync>
</body>
</html>
`;
}

browserTest('<ferry-sync> ends with labelled skips counted apart and hands them to ferry:finished', async (env) => {
    const host = await env.loopback();
    const src = await env.loopback();
    env.writeConfig({ therapists: therapists(src.csv('/therapists.csv', HEADER, ROWS)) },
                    { cors_origins: [host.url('/').replace(/\/$/, '')] });
    await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8', body: hostPage(ferry, token) });

    const page = await env.newPage({ ferry });
    await page.goto(host.url('/'));
    const button = page.locator('ferry-sync#therapists [data-testid="sync-now"]');
    await waitText(button, /^Sync now$/);
    await button.click();
    const message = page.locator('ferry-sync#therapists [part="message"][role="status"]');
    await waitText(message, SUMMARY, { timeout: RUN_WAIT });
    assert.equal(await message.getAttribute('data-state'), 'success');
    await env.shot(page, 'skip-labels-component');
    const finished = await until('the host page to receive ferry:finished',
        async () => (await page.evaluate(() => window.ferryFinished))[0]);
    assert.equal(finished.counts.skipped, 1);
    assert.deepEqual(finished.skipped_by_label, { FLAT: 2 });
});
