// A reload of Ferry's config (docs/config.md, "Reloading") reaches an open page without a
// reload of the page: the card of an added sync appears, the card of a removed one goes, and a
// notice says what changed ("Config reloaded: added X; removed Y").

import {
    assert, browserTest, card, PEOPLE_HEADER, peopleRows, syncConfig, waitCount, waitText,
} from './harness.mjs';

browserTest('a reload adds and removes sync cards on an open page, with a notice', async (env) => {
    const src = await env.loopback();
    const csv = (p) => src.route(p, { body: PEOPLE_HEADER.join(',') + '\n' + peopleRows(3).map((r) => r.join(',')).join('\n') + '\n' });
    env.writeConfig({
        roster: syncConfig(csv('/roster.csv'), { title: 'Roster', table: 'roster' }),
        old_list: syncConfig(csv('/old.csv'), { title: 'Old list', table: 'old_list' }),
    });
    const ana = await env.user('ana', 'admin');
    const ferry = await env.serve();
    const page = await env.loggedIn(ferry, ana);
    await waitText(card(page, 'roster').getByRole('heading'), 'Roster');
    await waitText(card(page, 'old_list').getByRole('heading'), 'Old list');
    await waitText(page.locator('[data-testid="live-status"]'), 'Live');
    assert.ok(await page.locator('[data-testid="config-notice"]').isHidden(), 'no notice before a reload');
    const marker = await page.evaluate(() => { window.notReloaded = true; return window.notReloaded; });

    env.writeConfig({
        roster: syncConfig(csv('/roster.csv'), { title: 'Roster', table: 'roster' }),
        clients: syncConfig(csv('/clients.csv'), { title: 'Clients', table: 'clients' }),
    });
    const r = await ferry.api('POST', '/api/config/reload');
    assert.equal(r.status, 200, r.text);

    await waitText(card(page, 'clients').getByRole('heading'), 'Clients');
    await waitCount(card(page, 'old_list'), (n) => n === 0);
    await waitText(page.locator('[data-testid="config-notice-text"]'),
                   /^Config reloaded: added clients; removed old_list$/);
    assert.equal(await page.evaluate(() => window.notReloaded), marker, 'the page was not reloaded');
    await env.shot(page, 'config-reloaded');

    await page.locator('[data-testid="config-notice"] button').click();
    assert.ok(await page.locator('[data-testid="config-notice"]').isHidden(), 'dismissed');
});
