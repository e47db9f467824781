// <ferry-sync>'s options (docs/embedding.md): autodismiss (a success message goes by itself
// after its seconds; errors stay), tenant (runs of one tenant only) and the compact badge.
// Each test serves a host page on another origin from a loopback server, loads the component
// from Ferry and drives it with a token, as an application's admin page would.

import {
    assert, browserTest, never, PEOPLE_HEADER, peopleRows, RUN_WAIT, summary, syncConfig, until,
    waitAttr, waitText,
} from './harness.mjs';

/** The host page: the component's script and body (HTML with the elements). */
function hostPage(ferry, body) {
    return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Host app</title></head>
<body>
  <script>
    window.ferryEvents = [];
    for (const type of ['ferry:started', 'ferry:progress', 'ferry:finished'])
      document.addEventListener(type, (e) => window.ferryEvents.push(
        {type, target: e.target.id, id: e.detail.id, tenant: e.detail.tenant, status: e.detail.status}));
  </script>
  <script type="module" src="${ferry.url('/ferry-sync.js')}"></script>
  ${body}
</body>
</html>
`;
}

/** syncs (name -> config) allowed from the host page's origin, an operator ana with a token,
 * ferry, and page: the host page with body (a function of the token) opened in a browser. */
async function fixture(env, syncs, body) {
    const host = await env.loopback();
    env.writeConfig(syncs, { cors_origins: [host.url('/').replace(/\/$/, '')] });
    const ana = await env.user('ana', 'operator');
    const token = await env.token('ana', 'host-app');
    const ferry = await env.serve();
    host.route('/', { type: 'text/html; charset=utf-8', body: hostPage(ferry, body(token)) });
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
