// Cluster mode in the browser: two Confab nodes on one database, linked by Redis, behind nginx
// running the repo's deploy/nginx/confab-cluster.conf. Alice's browser is pinned to one node and
// Bob's to the other, so everything one sees of the other crossed between nodes; Carol comes in
// through nginx, as users of a real deployment do.
import { test, expect } from './fixtures';
import { Cluster } from './servers';
import { aliceAndBob, hydrated, messageLog, openGeneral, openMembers, post, register, uniqueName } from './helpers';

test('two nodes behind nginx: live delivery, typing and presence cross between nodes', async ({ browser }) => {
  const cluster = await Cluster.start(2);
  try {
    const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser, {
      alice: { baseURL: cluster.nodeUrl(0) },
      bob: { baseURL: cluster.nodeUrl(1) },
    });
    await openGeneral(a);
    await openGeneral(b);

    // Posted on node 1, shown live on node 2.
    const text = `across ${uniqueName('m')}`;
    await post(a, text);
    await expect(messageLog(b).getByRole('article').filter({ hasText: text })).toBeVisible();

    // Typing on node 2 shows on node 1.
    await b.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('hel');
    await expect(a.getByText(`${bobName} is typing…`)).toBeVisible({ timeout: 5_000 });

    // Presence over both nodes: each sees the other online.
    const bobOnA = (await openMembers(a)).getByRole('listitem').filter({ hasText: bobName });
    await expect(bobOnA).toHaveAttribute('data-presence', 'online');
    await expect(
      (await openMembers(b)).getByRole('listitem').filter({ hasText: aliceName }),
    ).toHaveAttribute('data-presence', 'online');

    // Carol goes through nginx (round robin, no stickiness): pages, server functions and the
    // WebSocket all work through the proxy, and her post reaches both pinned browsers live.
    const carol = await browser.newContext({ baseURL: cluster.proxyUrl });
    const c = await carol.newPage();
    await register(c, uniqueName('carol'));
    await openGeneral(c);
    await expect(messageLog(c).getByRole('article').filter({ hasText: text })).toBeVisible();
    const viaProxy = `through nginx ${uniqueName('m')}`;
    await post(c, viaProxy);
    for (const page of [a, b]) {
      await expect(messageLog(page).getByRole('article').filter({ hasText: viaProxy })).toBeVisible();
    }

    // A 5 MiB file sent through nginx, whose body limit follows the nodes' upload limit, is
    // kept in the folder the nodes share; each pinned browser downloads it whole from its node.
    const big = Buffer.alloc(5 * 1024 * 1024, 'confab cluster ');
    await c.getByLabel('Attach files').first().setInputFiles({ name: 'build.log', mimeType: 'text/plain', buffer: big });
    await c.getByRole('button', { name: 'Send' }).click();
    for (const page of [a, b]) {
      const link = messageLog(page).getByRole('link', { name: 'build.log' });
      await expect(link).toBeVisible({ timeout: 15_000 });
      await expect(link.locator('xpath=..')).toContainText('5.2 MB');
      const got = await page.request.get((await link.getAttribute('href'))!);
      expect(got.status()).toBe(200);
      expect((await got.body()).equals(big)).toBe(true);
    }

    // Bob's browser closes: node 2 loses his only socket, and node 1 shows him offline.
    await bob.close();
    await expect(bobOnA).toHaveAttribute('data-presence', 'offline', { timeout: 5_000 });
    await expect(bobOnA).toContainText('last seen');
    await a.reload();
    await hydrated(a);
    await expect(bobOnA).toHaveAttribute('data-presence', 'offline');
    await alice.close();
    await carol.close();
  } finally {
    await cluster.stop();
  }
});
