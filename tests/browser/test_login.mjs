// The login view and the header (docs/ui.md): the form, the server's messages for a wrong
// password and for throttling, the header after login, log out.

import { assert, browserTest, card, PEOPLE_HEADER, peopleRows, syncConfig, waitCount, waitText } from './harness.mjs';

async function fixture(env) {
    env.writeCsv('people.csv', PEOPLE_HEADER, peopleRows(3));
    env.writeConfig({ roster: syncConfig('people.csv', { title: 'Roster' }) });
    const ana = await env.user('ana', 'operator');
    const ferry = await env.serve();
    return { ana, ferry };
}

/** Submits the login form and waits for POST /api/login's answer; returns its status. */
async function submitLogin(page, name, password) {
    const form = page.locator('[data-testid="login-form"]');
    await form.locator('input[name="user"]').fill(name);
    await form.locator('input[name="password"]').fill(password);
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/login') && r.request().method() === 'POST');
    await form.locator('button[type="submit"]').click();
    return (await answer).status();
}

browserTest('log in through the form: a wrong password shows the error, the right one the header', async (env) => {
    const { ana, ferry } = await fixture(env);
    env.allowConsole(/status of 401/, /\/api\/login$/); // the wrong password's answer
    const page = await env.newPage({ ferry });
    // Unauthenticated, the login view is shown whatever the hash.
    await page.goto(ferry.url('/#/history'));
    const form = page.locator('[data-testid="login-form"]');
    await form.waitFor({ state: 'visible' });
    assert.equal(await form.locator('input[name="password"]').getAttribute('type'), 'password');
    await waitText(form.locator('button[type="submit"]'), /^Log in$/);
    assert.equal(await page.locator('[data-testid="whoami"]').count(), 0, 'no header before login');
    assert.equal(await page.locator('[data-testid="history-table"]').count(), 0, 'no history before login');
    await env.shot(page, 'login');

    assert.equal(await submitLogin(page, 'ana', 'not-the-password'), 401);
    const error = page.locator('[data-testid="login-error"]');
    await waitText(error, 'wrong user name or password');
    assert.equal(await error.getAttribute('role'), 'alert');
    assert.equal(await page.locator('[data-testid="whoami"]').count(), 0, 'a wrong password did not log in');
    await env.shot(page, 'login-error');

    assert.equal(await submitLogin(page, 'ana', ana.password), 200);
    const whoami = page.locator('[data-testid="whoami"]');
    await waitText(whoami, /ana.*operator/);
    await waitCount(form, 0);
    await waitText(page.locator('button[data-testid="logout"]'), /^Log out$/);
    for (const [id, href] of [['nav-syncs', '#/syncs'], ['nav-history', '#/history'], ['nav-insights', '#/insights']])
        assert.equal(await page.locator(`a[data-testid="${id}"]`).getAttribute('href'), href, id);
    const notifications = page.locator('[data-testid="notifications"]');
    assert.equal(await notifications.count(), 1, 'one notifications container');
    assert.equal(await notifications.getAttribute('aria-live'), 'polite');

    // The session survives a reload; logging out ends it.
    await page.goto(ferry.url('/#/syncs'));
    await page.reload();
    await waitText(whoami, 'ana');
    await card(page, 'roster').waitFor({ state: 'visible' });
    await page.locator('button[data-testid="logout"]').click();
    await form.waitFor({ state: 'visible' });
    assert.equal(await whoami.count(), 0, 'no header after logout');
    await page.reload();
    await form.waitFor({ state: 'visible' });
    assert.equal(await whoami.count(), 0, 'still logged out after a reload');
    const me = await page.request.get(ferry.url('/api/me'));
    assert.equal(me.status(), 401, 'the session cookie no longer works');
});

browserTest('repeated wrong passwords show the throttling message with the wait', async (env) => {
    const { ferry } = await fixture(env);
    env.allowConsole(/status of (401|429)/, /\/api\/login$/);
    const page = await env.newPage({ ferry });
    await page.goto(ferry.url('/'));
    await page.locator('[data-testid="login-form"]').waitFor({ state: 'visible' });
    // 5 failures for a name are free; then each locks it (2 s, 4 s...), so the 7th try at
    // the latest is refused with 429 before the password is checked.
    let status = 0;
    for (let i = 0; i < 8 && status !== 429; i++) status = await submitLogin(page, 'ana', `wrong-${i}`);
    assert.equal(status, 429, 'the server throttled the name');
    await waitText(page.locator('[data-testid="login-error"]'), /too many failed logins; try again in \d+ s/);
});
