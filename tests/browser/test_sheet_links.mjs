// Fix it at the source (docs/ui.md): a Google Sheet's failed or skipped record links, on the
// run page, to the cell that made it so. The loopback server stands in for the sheet's export
// at its path (/spreadsheets/d/ID/export?format=csv&gid=G); the link keeps its host.

import { assert, browserTest, syncConfig, waitAttr, waitCount, waitText } from './harness.mjs';

const HEADER = ['Code', 'Name', 'Email'];
const ROWS = [
    ['T1', 'Ayu', 'ayu@example.com'],
    ['T2', 'Budi', 'budi@'],
    ['T3', '', 'citra@example.com'],
];

browserTest('run page: a sheet record that failed links to its cell', async (env) => {
    const src = await env.loopback();
    const url = src.csv('/spreadsheets/d/1AbC-sheet/export', HEADER, ROWS) + '?format=csv&gid=77';
    env.writeConfig({
        staff: syncConfig(url, {
            table: 'staff', key: 'code',
            fields: { code: { column: 'Code' }, name: { column: 'Name', required: true },
                      email: { column: 'Email', type: 'email' } },
            extra: { guard: { max_failed: '100%' } },
        }),
    });
    const vera = await env.user('vera', 'viewer');
    const ferry = await env.serve();
    const run = await ferry.runToEnd('staff');

    const page = await env.loggedIn(ferry, vera);
    await page.goto(ferry.url(`/#/runs/${run.id}`));
    const detail = page.locator(`[data-testid="run-detail"][data-run="${run.id}"]`);
    const failedTab = detail.locator('[role="tab"][data-outcome="failed"]');
    await failedTab.click();
    await waitAttr(failedTab, 'aria-selected', 'true');
    const rows = detail.locator('[role="tabpanel"] [data-testid="change-row"]');
    await waitCount(rows, 2);
    const fix = rows.locator('[data-testid="change-fix"]');
    await waitCount(fix, 2);
    const edit = src.url('/spreadsheets/d/1AbC-sheet/edit#gid=77&range=');
    assert.deepEqual(await fix.evaluateAll((as) => as.map((a) => a.href)), [edit + 'C3', edit + 'B4']);
    await waitText(fix.nth(0), /^Fix cell C3 in the sheet/);
    assert.equal(await fix.nth(0).getAttribute('target'), '_blank');
    assert.equal(await fix.nth(0).getAttribute('rel'), 'noopener noreferrer');
    await env.shot(page, 'sheet-cell-links');
});
