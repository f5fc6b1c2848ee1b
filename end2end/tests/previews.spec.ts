// Link previews as people see them: a link posted in a room gets its card live on the other
// member's screen, with a thumbnail served by Confab (the member's browser never contacts the
// linked site), and only its author removes it; also without JavaScript. The linked site is a
// server this test runs on loopback, known to Confab as og.test: playwright.config.ts resolves
// and trusts that name, as an operator would an intranet host.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect } from './fixtures';
import {
  aliceAndBob,
  createRoom,
  hydrated,
  messageLog,
  openMenu,
  png,
  post,
  register,
  uniqueName,
} from './helpers';

const PAGE = `<!doctype html><html><head>
<title>Fallback title</title>
<meta property="og:title" content="Launch day at Example">
<meta property="og:description" content="We shipped the new release &amp; it is fast.">
<meta property="og:site_name" content="Example News">
<meta property="og:image" content="/cover.png">
</head><body><p>Hello</p></body></html>`;

/** A linked site on loopback; `asked` lists every path requested of it. */
async function linkedSite() {
  const cover = png(600, 315);
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    asked.push(req.url ?? '');
    if (req.url?.startsWith('/launch')) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else if (req.url === '/cover.png') {
      res.writeHead(200, { 'Content-Type': 'image/png' });
      res.end(cover);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as AddressInfo).port;
  return { server, asked, port, origin: `http://og.test:${port}` };
}

test('a posted link shows its card live, and only its author removes it', async ({ browser }) => {
  const site = await linkedSite();
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const id = await createRoom(a, uniqueName('links'));
  await hydrated(a);
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  const sitesSeenByBob: string[] = [];
  b.on('request', (r) => {
    if (r.url().includes('og.test') || r.url().includes(`:${site.port}/`)) {
      sitesSeenByBob.push(r.url());
    }
  });

  const link = `${site.origin}/launch`;
  await post(a, `Our launch post: ${link}`);
  const bobsView = messageLog(b).getByRole('article').filter({ hasText: 'Our launch post' });
  // The bare address is a link, and the card follows without a reload.
  await expect(bobsView.locator('.body a', { hasText: link })).toHaveAttribute('href', link);
  const card = bobsView.locator('a.link-card');
  await expect(card).toContainText('Launch day at Example');
  await expect(card).toContainText('We shipped the new release & it is fast.');
  await expect(card).toContainText('Example News');
  await expect(card).toHaveAttribute('href', link);
  const image = card.locator('img');
  await expect(image).toHaveAttribute('src', new RegExp(`^/previews/${id}/\\d+$`));
  await expect.poll(() => image.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(320);
  // Confab fetched the page and its image once; Bob's browser asked the site for nothing.
  expect(site.asked.filter((p) => p === '/launch')).toHaveLength(1);
  expect(site.asked.filter((p) => p === '/cover.png')).toHaveLength(1);
  expect(sitesSeenByBob).toEqual([]);

  // Bob may not remove Alice's card; Alice may, and it goes from Bob's screen live.
  const bobsMenu = await openMenu(bobsView, 'More actions');
  await expect(bobsMenu.getByRole('button', { name: 'Remove preview' })).toHaveCount(0);
  await b.keyboard.press('Escape');
  const alices = messageLog(a).getByRole('article').filter({ hasText: 'Our launch post' });
  await (await openMenu(alices, 'More actions')).getByRole('button', { name: 'Remove preview' }).click();
  await expect(card).toHaveCount(0);
  await expect(alices.locator('a.link-card')).toHaveCount(0);
  await b.reload();
  await hydrated(b);
  await expect(bobsView).toBeVisible();
  await expect(bobsView.locator('a.link-card')).toHaveCount(0);
  await alice.close();
  await bob.close();
  site.server.close();
});

test('previews work without JavaScript', async ({ browser }) => {
  const site = await linkedSite();
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await register(page, uniqueName('nojslinker'), { js: false });
  const id = await createRoom(page, uniqueName('nojslinks'));
  const link = `${site.origin}/launch?nojs`;
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(`see ${link}`);
  await page.getByRole('button', { name: 'Send' }).click();
  const message = messageLog(page).getByRole('article').filter({ hasText: 'see ' });
  // The card is fetched after the post: a later load of the page shows it.
  await expect(async () => {
    await page.goto(`/r/${id}`);
    await expect(message.locator('a.link-card')).toContainText('Launch day at Example', {
      timeout: 1000,
    });
  }).toPass({ timeout: 15_000 });
  await message.locator('summary[aria-label="More actions"]').click();
  await message.getByRole('button', { name: 'Remove preview' }).click();
  await page.goto(`/r/${id}`);
  await expect(message).toBeVisible();
  await expect(message.locator('a.link-card')).toHaveCount(0);
  await context.close();
  site.server.close();
});
