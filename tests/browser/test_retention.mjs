// The run page of a run whose change detail retention pruned (docs/ui.md): its counts stay,
// the change tabs give way to a sentence saying when the detail went, and there is no Revert
// (without its change rows the run cannot be undone). The run is aged by writing its
// finished_at in the store, then `ferry prune` takes its change rows.

import { spawnSync } from 'node:child_process';

import { assert, browserTest, PEOPLE_HEADER, peopleRows, syncConfig, waitText } from './harness.mjs';

const AGE_FIRST_RUN = "import sqlite3, sys\n" +
    "c = sqlite3.connect(sys.argv[1])\n" +
    "c.execute(\"UPDATE ferry_runs SET finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days')" +
    " WHERE id = 1\")\n" +
    "c.commit()\n";

browserTest('a pruned run keeps its counts and says when its change detail was pruned', async (env) => {
    env.writeConfig({ people: syncConfig('people.csv') });
    for (const n of [3, 4]) { // run 1: 3 created; run 2, the latest: 1 created
        env.writeCsv('people.csv', PEOPLE_HEADER, peopleRows(n));
        const r = await env.cli(['sync', 'people', '--config', env.configPath]);
        assert.equal(r.code, 0, r.stderr);
    }
    const aged = spawnSync('python3', ['-c', AGE_FIRST_RUN, env.path('ferry.db')]);
    assert.equal(aged.status, 0, String(aged.stderr));
    const pruned = await env.cli(['prune', '--config', env.configPath]);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.match(pruned.stdout, /3 change rows \(of 1 run\)/);

    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana, { hash: '#/runs/1' });
    await waitText(page.locator('[data-testid="changes-pruned"]'),
        /^The change detail of this run was pruned on .+; its counts remain\.$/);
    await waitText(page.locator('.count--created dd'), '3');
    assert.equal(await page.locator('[data-testid="change-row"]').count(), 0);
    assert.equal(await page.locator('[data-testid="revert"]').count(), 0);
    await env.shot(page, 'run-changes-pruned');

    // The latest run still lists its change and may be reverted.
    await page.goto(ferry.url('/#/runs/2'));
    await waitText(page.locator('[data-testid="change-row"]').first(), /P/);
    assert.equal(await page.locator('[data-testid="changes-pruned"]').count(), 0);
});
