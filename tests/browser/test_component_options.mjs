// <ferry-sync>'s options (docs/embedding.md): autodismiss (a success message goes by itself
// after its seconds; errors stay), tenant (runs of one tenant only) and the compact badge.
// Each test serves a host page on another origin from a loopback server, loads the component
// from Ferry and drives it with a token, as an application's admin page would.

import {
    assert, browserTest, componentHostPage, never, PEOPLE_HEADER, peopleRows, RUN_WAIT, summary, syncConfig, until,
    waitAttr, waitText,
} from './harness.mjs';

/** syncs (name -> config) allowed from the host page's origin, an operator ana with a token,
 * ferry, and page: the host page with body (a function of the token) opened in a browser. */
async function fixture(env, syncs, body) {
    const host = await env.loopback();
    env.writeConfig(syncs, { cors_origins: [host.url('/').replace(/\/$/, '')] });
    const ana = await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8', body: componentHostPage(ferry, body(token)) });
    const page = await env.newPage({ ferry });
    await page.goto(host.url('/'));
    return { ferry, page, ana };
}

const part = (page, id, name) => page.locator(`ferry-sync#${id} [part~="${name}"]`);
const isEmpty = async (loc) => (await loc.getAttribute('class') || '').split(/\s+/).includes('empty');

browserTest('<ferry-sync autodismiss="1">: a success message goes by itself, an error stays', async (env) => {
    const src = await env.loopback();
    const { page } = await fixture(env, {
        quick: syncConfig(src.csv('/quick.csv', PEOPLE_HEADER, peopleRows(3)), { title: 'Quick' }),
        broken: syncConfig(src.url('/missing.csv'), { title: 'Broken', table: 'broken' }),
    }, (token) => `
  <ferry-sync id="auto" sync="quick" token="${token}" autodismiss="1"></ferry-sync>
  <ferry-sync id="keep" sync="quick" token="${token}"></ferry-sync>
  <ferry-sync id="bad" sync="broken" token="${token}" autodismiss="1"></ferry-sync>`);
    await waitText(part(page, 'auto', 'button'), /^Sync now$/);
    await waitText(part(page, 'keep', 'button'), /^Sync now$/);
    await page.mouse.move(0, 0); // not over a message, which would hold it

    // One run, followed by both components of the sync: only the one with autodismiss
    // clears its message; the other keeps it until dismissed.
    await part(page, 'auto', 'button').click();
    await waitText(part(page, 'keep', 'message'), summary(3, { created: 3 }), { timeout: RUN_WAIT });
    await until('the autodismiss message to go', () => isEmpty(part(page, 'auto', 'message')), { timeout: RUN_WAIT });
    assert.equal(await part(page, 'auto', 'message-text').textContent(), '');
    assert.equal(await page.evaluate(() => document.querySelector('#auto').run.status), 'succeeded',
                 'the run is still the one shown');
    await waitText(part(page, 'auto', 'button'), /^Sync now$/);
    await never('the message without autodismiss went', () => isEmpty(part(page, 'keep', 'message')), 2500);
    await waitText(part(page, 'keep', 'message'), summary(3, { created: 3 }));

    // A failed run's message stays, autodismiss or not.
    await part(page, 'bad', 'button').click();
    const bad = part(page, 'bad', 'message');
    await waitAttr(bad, 'data-state', 'failure', { timeout: RUN_WAIT });
    await waitText(bad, /404/);
    await never('the failure message went', () => isEmpty(bad), 2500);
    assert.equal(await bad.getAttribute('data-state'), 'failure');
    await part(page, 'bad', 'dismiss').click();
    await until('the failure message to go once dismissed', () => isEmpty(bad));
});

browserTest('<ferry-sync tenant="...">: each tenant\'s button starts and shows only its own runs', async (env) => {
    const src = await env.loopback();
    src.slowCsv('/clinic-a.csv', PEOPLE_HEADER, peopleRows(3000), 4); // clinic-b.csv: 404
    const { ferry, page } = await fixture(env, {
        people: syncConfig(src.url('/{clinic}.csv'), {
            title: 'People',
            extra: { tenant: { variable: 'clinic', column: 'clinic_id', values: ['clinic-a', 'clinic-b'] } },
        }),
    }, (token) => `
  <ferry-sync id="a" sync="people" tenant="clinic-a" token="${token}"></ferry-sync>
  <ferry-sync id="b" sync="people" tenant="clinic-b" token="${token}"></ferry-sync>
  <ferry-sync id="z" sync="people" tenant="clinic-z" token="${token}"></ferry-sync>`);
    await waitText(part(page, 'z', 'message'), 'The sync "people" has no tenant "clinic-z".');
    assert.ok(await part(page, 'z', 'button').isDisabled(), 'an unknown tenant\'s button is disabled');

    // clinic-a's run, started elsewhere before this page loads, shows on a's button only.
    const r = await ferry.api('POST', '/api/syncs/people/runs', { body: { tenant: 'clinic-a' } });
    assert.equal(r.status, 202, r.text);
    const aRun = r.json.id;
    await page.reload();
    await waitText(part(page, 'a', 'button'), /^Syncing\.\.\./);
    await waitText(part(page, 'b', 'button'), /^Sync now$/);
    assert.ok(!(await part(page, 'b', 'button').isDisabled()), 'b is free while a runs');
    assert.ok(await isEmpty(part(page, 'b', 'message')), 'b says nothing of a\'s run');

    // clinic-b fails (its source is a 404) while clinic-a syncs: each shows its own run.
    await part(page, 'b', 'button').click();
    await waitAttr(part(page, 'b', 'message'), 'data-state', 'failure', { timeout: RUN_WAIT });
    await waitText(part(page, 'b', 'message'), /404/);
    const bRun = await page.evaluate(() => document.querySelector('#b').run);
    assert.equal(bRun.tenant, 'clinic-b', 'the click\'s POST named b\'s tenant');
    assert.notEqual(bRun.id, aRun);
    assert.equal((await ferry.run(bRun.id)).tenant, 'clinic-b');
    const aNow = await ferry.run(aRun);
    if (aNow.status === 'running' || aNow.status === 'queued') {
        assert.equal(await part(page, 'a', 'message').getAttribute('data-state'), 'running',
                     'a still shows its own run, not b\'s failure');
    }
    await waitText(part(page, 'a', 'message'), summary(3000, { created: 3000 }), { timeout: RUN_WAIT });
    assert.equal(await part(page, 'b', 'message').getAttribute('data-state'), 'failure', 'b keeps its failure');
    await waitText(part(page, 'a', 'button'), /^Sync now$/);

    const events = await page.evaluate(() => window.ferryEvents);
    for (const [id, tenant, run] of [['a', 'clinic-a', aRun], ['b', 'clinic-b', bRun.id]]) {
        const mine = events.filter((e) => e.target === id);
        assert.ok(mine.some((e) => e.type === 'ferry:finished' && e.id === run), `${id} finished its run: ${JSON.stringify(mine)}`);
        assert.ok(mine.every((e) => e.tenant === tenant && e.id === run), `${id} fired only for ${tenant}: ${JSON.stringify(mine)}`);
    }
    assert.ok(events.every((e) => e.target !== 'z'), 'the unknown tenant fired nothing');
});

browserTest('<ferry-sync variant="compact">: a badge with the percent, then a check or a cross, named in words', async (env) => {
    const src = await env.loopback();
    const { page } = await fixture(env, {
        roster: syncConfig(src.slowCsv('/roster.csv', PEOPLE_HEADER, peopleRows(3000), 4), { title: 'Roster' }),
        broken: syncConfig(src.url('/missing.csv'), { title: 'Broken', table: 'broken' }),
    }, (token) => `
  <ferry-sync id="badge" sync="roster" variant="compact" token="${token}"></ferry-sync>
  <ferry-sync id="bad" sync="broken" variant="compact" label="Import rooms" token="${token}"></ferry-sync>`);
    const badge = part(page, 'badge', 'button');
    await waitAttr(badge, 'aria-label', 'Sync now');
    assert.equal(await badge.getAttribute('data-state'), 'idle');
    assert.equal((await badge.innerText()).trim(), '\u21bb');
    assert.equal(await part(page, 'bad', 'button').getAttribute('aria-label'), 'Import rooms');
    const box = await badge.boundingBox();
    assert.ok(box.width < 80 && box.height < 40, `a small badge: ${JSON.stringify(box)}`);

    await badge.click();
    await waitText(badge, /^[1-9]\d?%$/, { timeout: RUN_WAIT }); // moving: past 0, before 100
    await waitAttr(badge, 'aria-label', (v) => /^Syncing\.\.\. \d+%$/.test(v || ''));
    assert.equal(await badge.getAttribute('data-state'), 'running');
    assert.equal(await part(page, 'badge', 'progress').isVisible(), false, 'no progress bar beside the badge');
    await env.shot(page, 'component-compact-running');

    await waitAttr(badge, 'data-state', 'success', { timeout: RUN_WAIT });
    assert.equal((await badge.innerText()).trim(), '\u2713');
    assert.equal(await badge.getAttribute('aria-label'), `Sync now. ${summary(3000, { created: 3000 })}`);
    assert.ok(!(await badge.isDisabled()), 'the badge can start the next run');
    // The message is still the status region screen readers hear, but takes no room.
    const message = part(page, 'badge', 'message');
    assert.equal(await message.getAttribute('role'), 'status');
    assert.equal((await message.textContent()).replace('×', '').trim(), summary(3000, { created: 3000 }));
    const mbox = await message.boundingBox();
    assert.ok(mbox === null || (mbox.width <= 1 && mbox.height <= 1), `the message is visually hidden: ${JSON.stringify(mbox)}`);
    const finished = await until('ferry:finished from the badge', async () =>
        (await page.evaluate(() => window.ferryEvents)).find((e) => e.type === 'ferry:finished' && e.target === 'badge'));
    assert.equal(finished.status, 'succeeded');

    const bad = part(page, 'bad', 'button');
    await bad.click();
    await waitAttr(bad, 'data-state', 'failure', { timeout: RUN_WAIT });
    assert.equal((await bad.innerText()).trim(), '\u2715');
    assert.match(await bad.getAttribute('aria-label'), /^Import rooms\. Sync of Broken failed: .*404/);
    await env.shot(page, 'component-compact-finished');
});
