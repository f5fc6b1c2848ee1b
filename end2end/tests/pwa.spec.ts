// The installable app and notifications in a real Chromium: the manifest and its icons, the
// service worker taking control, the app opening from its cache with the server stopped (and
// the outbox keeping what is written meanwhile), a push delivered to the service worker over
// the DevTools protocol (the real push services are out of reach here) showing a notification
// whose click opens the room, the mute and level settings kept by the server, and both
// changing what a push service of the test's own receives and decrypts.
import { expect, test, Page, BrowserContext } from '@playwright/test';
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import { aliceAndBob, createRoom, hydrated, messageLog, openDm, post, register, send, uniqueName, openRoomMenu, openAccountMenu, openMembers } from './helpers';
import { OwnServer } from './servers';

/** Waits until the service worker controls `page` (it claims pages as it activates). */
async function controlled(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) =>
        navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }),
      );
    }
    return registration.active?.scriptURL ?? '';
  });
}

/** Creates a public room and returns its page's path, once its live socket is open. */
async function openNewRoom(page: Page, name: string): Promise<string> {
  const id = await createRoom(page, name);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
  return `/r/${id}`;
}

/** A PNG's width and height, from its IHDR chunk. */
function pngSize(bytes: Buffer): [number, number] {
  expect(bytes.subarray(1, 4).toString()).toBe('PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

test('the manifest is valid, its icons are there, and the service worker takes control', async ({
  page,
  request,
}) => {
  const answer = await request.get('/manifest.webmanifest');
  expect(answer.ok()).toBe(true);
  const manifest = await answer.json();
  expect(manifest).toMatchObject({ name: 'Confab', display: 'standalone', start_url: '/' });
  expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/i);
  for (const size of [192, 512]) {
    const icon = manifest.icons.find((i: { sizes: string }) => i.sizes === `${size}x${size}`);
    expect(icon, `a ${size} px icon`).toBeTruthy();
    const png = await request.get(icon.src);
    expect(png.headers()['content-type']).toBe('image/png');
    expect(pngSize(await png.body())).toEqual([size, size]);
  }
  await register(page, uniqueName('pwa'));
  await expect(page.locator('link[rel="manifest"]')).toHaveAttribute('href', '/manifest.webmanifest');
  expect(await controlled(page)).toMatch(/\/sw\.js$/);
});

test('the bundle is named by its hash, sent precompressed, kept a year, and precached by the worker', async ({
  page,
  request,
}) => {
  await page.goto('/');
  const bundle = [
    await page.locator('link[rel="modulepreload"]').getAttribute('href'),
    await page.locator('link[rel="preload"][as="fetch"]').getAttribute('href'),
    await page.locator('link[rel="stylesheet"]').getAttribute('href'),
  ];
  const kinds = bundle.map((href) => /^\/pkg\/confab\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/.exec(href ?? '')?.[1]);
  expect(kinds, `hashed names: ${bundle.join(', ')}`).toEqual(['js', 'wasm', 'css']);
  for (const href of bundle as string[]) {
    const answer = await request.get(href, { headers: { 'Accept-Encoding': 'br' } });
    expect(answer.status(), href).toBe(200);
    expect(answer.headers()['content-encoding'], href).toBe('br');
    expect(answer.headers()['cache-control'], href).toBe('public, max-age=31536000, immutable');
  }
  // The unhashed names are not served: a stale page cannot mix two releases.
  expect((await request.get('/pkg/confab.wasm')).status()).toBe(404);
  // The page itself is always asked for again.
  expect((await request.get('/')).headers()['cache-control'] ?? '').not.toContain('immutable');

  // The worker is told this release's bundle, and the parts split off it that pages load when
  // first opened (hashed, precompressed and kept a year too), and has them all in its cache
  // once it is active.
  const worker = await (await request.get('/sw.js')).text();
  const listed: string[] = JSON.parse(/const BUNDLE = (\[.*\]);/.exec(worker)?.[1] ?? '[]');
  expect(listed.slice(0, 3)).toEqual(bundle);
  const parts = listed.filter((href) => href.endsWith('.wasm') && !bundle.includes(href));
  expect(parts.length, `split parts in ${listed.join(', ')}`).toBeGreaterThan(0);
  for (const href of parts) {
    const answer = await request.get(href, { headers: { 'Accept-Encoding': 'br' } });
    expect(answer.status(), href).toBe(200);
    expect(answer.headers()['content-encoding'], href).toBe('br');
    expect(answer.headers()['cache-control'], href).toBe('public, max-age=31536000, immutable');
  }
  const release = /const RELEASE = "([0-9a-f]{16})";/.exec(worker)?.[1];
  expect(release).toBeTruthy();
  await register(page, uniqueName('bundle'));
  await controlled(page);
  const cached = await page.evaluate(async () => {
    const names = await caches.keys();
    const urls: string[] = [];
    for (const name of names) {
      for (const request of await (await caches.open(name)).keys()) urls.push(new URL(request.url).pathname);
    }
    return { names, urls };
  });
  expect(cached.names).toEqual([`confab-${release}`]);
  for (const href of listed) expect(cached.urls).toContain(href);
});

test('with the server stopped the app opens from its cache and the outbox keeps what is written', async ({
  browser,
}) => {
  const server = await OwnServer.start();
  const context = await browser.newContext({ baseURL: server.url });
  const page = await context.newPage();
  try {
    await register(page, uniqueName('off'));
    await controlled(page);
    const roomName = uniqueName('cached');
    const room = await openNewRoom(page, roomName);
    await post(page, 'said before going offline');
    // Opened once more while controlled, so the worker keeps this page as it is now.
    await page.reload();
    await hydrated(page);
    await expect(messageLog(page).getByText('said before going offline')).toBeVisible();

    await server.kill();
    await page.reload();
    await hydrated(page);
    await expect(page.getByRole('heading', { name: roomName })).toBeVisible();
    await expect(messageLog(page).getByText('said before going offline')).toBeVisible();
    await expect(page.getByRole('navigation').getByRole('link', { name: roomName })).toBeVisible();
    await expect(page.getByText('You may be offline')).toBeVisible();
    await send(page, 'written while offline');
    await expect(
      messageLog(page).locator('article[data-pending]').filter({ hasText: 'written while offline' }),
    ).toBeVisible();

    await server.restart();
    await expect(
      messageLog(page).locator('article:not([data-pending])').filter({ hasText: 'written while offline' }),
    ).toBeVisible({ timeout: 30_000 });
    await expect(page).toHaveURL(new RegExp(`${room}$`));
  } finally {
    await context.close();
    await server.kill();
  }
});

/** The service worker's registration id, as the DevTools protocol names it. */
async function registrationId(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  const found = new Promise<string>((resolve) => {
    cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
      const live = registrations.find((r: { isDeleted: boolean }) => !r.isDeleted);
      if (live) resolve(live.registrationId);
    });
  });
  await cdp.send('ServiceWorker.enable');
  return { cdp, id: await found };
}

test('a push shows a notification whose click opens the room', async ({ page, context, baseURL }) => {
  await context.grantPermissions(['notifications'], { origin: baseURL });
  await register(page, uniqueName('push'));
  await controlled(page);
  const roomName = uniqueName('pushed');
  const room = await openNewRoom(page, roomName);
  await page.goto('/');
  await hydrated(page);

  const { cdp, id } = await registrationId(context, page);
  const payload = {
    title: `alice in #${roomName}`,
    body: 'look at this',
    url: `${room}#m1`,
    tag: `confab-room-${room.split('/').pop()}`,
    room_id: Number(room.split('/').pop()),
    seq: 1,
    reason: 'mention',
  };
  const worker = context.serviceWorkers()[0] ?? (await context.waitForEvent('serviceworker'));
  // A push delivered through DevTools was lost once in a full run on a loaded machine (why is
  // not known; the worker may still have been starting), so it is delivered again until it
  // shows. Its tag keeps it one notification, which is what is checked.
  await expect
    .poll(
      async () => {
        await cdp.send('ServiceWorker.deliverPushMessage', {
          origin: new URL(baseURL!).origin,
          registrationId: id,
          data: JSON.stringify(payload),
        });
        return worker.evaluate(async () =>
          (await (self as any).registration.getNotifications()).map((n: Notification) => ({
            title: n.title,
            body: n.body,
            tag: n.tag,
          })),
        );
      },
      { timeout: 20_000 },
    )
    .toEqual([{ title: payload.title, body: payload.body, tag: payload.tag }]);

  // The click as the browser would deliver it, to the worker's own handler.
  const clicked: number = await worker.evaluate(async () => {
    const [shown] = await (self as any).registration.getNotifications();
    self.dispatchEvent(new (self as any).NotificationEvent('notificationclick', { notification: shown }));
    return shown.timestamp;
  });
  await expect(page).toHaveURL(new RegExp(`${room}#m1$`));
  await expect(page.getByRole('heading', { name: roomName })).toBeVisible();
  // The clicked notification is gone. (A push the loop above sent again may still arrive late
  // and show anew, with a later time: that one was never clicked.)
  await expect
    .poll(() =>
      worker.evaluate(
        async (at) =>
          (await (self as any).registration.getNotifications()).filter((n: Notification) => n.timestamp <= at)
            .length,
        clicked,
      ),
    )
    .toBe(0);
});

test('mute and the notification level are kept by the server', async ({ page }) => {
  await register(page, uniqueName('prefs'));
  await openNewRoom(page, uniqueName('quiet'));
  await (await openRoomMenu(page)).getByRole('button', { name: 'Mute', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Unmute' })).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect((await openRoomMenu(page)).getByRole('button', { name: 'Unmute' })).toBeVisible();

  await (await openAccountMenu(page)).getByRole('link', { name: 'Notifications' }).click();
  await expect(page.getByRole('heading', { name: 'Notifications', level: 1 })).toBeVisible();
  await expect(page.getByText('1 muted room stays silent.')).toBeVisible();
  await expect(page.getByLabel('Direct messages, mentions and thread replies')).toBeChecked();
  await page.getByLabel('Nothing').check();
  await page.getByRole('button', { name: 'Save' }).click();
  // The reload must not overtake the save (on a busy machine it can, and aborts it).
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await page.reload();
  await hydrated(page);
  await expect(page.getByLabel('Nothing')).toBeChecked();
  await expect(page.getByText('No device gets push notifications yet.')).toBeVisible();
  // Headless Chromium here has no push service to subscribe with, but the button is offered.
  await expect(page.getByRole('button', { name: 'Turn on push notifications' })).toBeVisible();
});

/** A push service of the test's own: it keeps one browser's keys and decrypts what it gets
 * (RFC 8291), as the browser would. */
class TestPushService {
  readonly received: { title: string; body: string; url: string }[] = [];
  private readonly ecdh = crypto.createECDH('prime256v1');
  private readonly auth = crypto.randomBytes(16);
  private server?: http.Server;
  port = 0;

  async start(): Promise<void> {
    this.ecdh.generateKeys();
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        this.received.push(JSON.parse(this.decrypt(Buffer.concat(chunks))));
        res.statusCode = 201;
        res.end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as { port: number }).port;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The subscription, as `PushSubscription.toJSON()` would give it. */
  subscription() {
    return {
      endpoint: `${this.origin}/push/bob`,
      p256dh: this.ecdh.getPublicKey().toString('base64url'),
      auth: this.auth.toString('base64url'),
    };
  }

  private decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const idlen = body[20];
    const serverKey = body.subarray(21, 21 + idlen);
    const data = body.subarray(21 + idlen);
    const secret = this.ecdh.computeSecret(serverKey);
    const info = Buffer.concat([Buffer.from('WebPush: info\0'), this.ecdh.getPublicKey(), serverKey]);
    const ikm = Buffer.from(crypto.hkdfSync('sha256', secret, this.auth, info, 32));
    const cek = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(crypto.hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = crypto.createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(data.subarray(data.length - 16));
    const plain = Buffer.concat([decipher.update(data.subarray(0, data.length - 16)), decipher.final()]);
    // The last record ends with the delimiter 2, then any padding zeros.
    let end = plain.length;
    while (end > 0 && plain[end - 1] === 0) end--;
    return plain.subarray(0, end - 1).toString('utf8');
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

test('muting a room and the notification level change what is pushed', async ({ browser }) => {
  const service = new TestPushService();
  await service.start();
  const server = await OwnServer.start({ env: { CONFAB_PUSH_ALLOW_ENDPOINTS: service.origin } });
  const own = { baseURL: server.url };
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser, { alice: own, bob: own });
  try {
    // Bob's browser subscribes (headless Chromium has no push service, so the test hands the
    // server its own subscription, through Bob's session).
    const subscribed = await b.request.post('/api/subscribe_push', { form: service.subscription() });
    expect(subscribed.status()).toBe(200);
    const dm = await openDm(a, bobName);
    const bobOnAlicesScreen = (await openMembers(a))
      .getByRole('listitem')
      .filter({ hasText: bobName });
    /** Bob closes his last tab; Alice's screen shows him offline, as the server sees him. */
    const bobLeaves = async () => {
      await b.goto('about:blank');
      await expect(bobOnAlicesScreen).toHaveAttribute('data-presence', 'offline');
    };
    await b.goto(`/r/${dm}`);
    await hydrated(b);
    await (await openRoomMenu(b)).getByRole('button', { name: 'Mute', exact: true }).click();
    await expect(b.getByRole('button', { name: 'Unmute' })).toBeVisible();
    // No tab of Bob's is open from now on: he would be pushed to.
    await bobLeaves();
    await post(a, 'said while muted');

    await b.goto(`/r/${dm}`);
    await hydrated(b);
    await (await openRoomMenu(b)).getByRole('button', { name: 'Unmute' }).click();
    await expect(b.getByRole('button', { name: 'Mute', exact: true })).toBeVisible();
    await b.goto('/notifications');
    await hydrated(b);
    await b.getByLabel('Nothing').check();
    await b.getByRole('button', { name: 'Save' }).click();
    // Leaving before the save is answered would cancel it.
    await expect(b.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
    await bobLeaves();
    await post(a, 'said while Bob wants nothing');

    await b.goto('/notifications');
    await hydrated(b);
    await b.getByLabel('Direct messages, mentions and thread replies').check();
    await b.getByRole('button', { name: 'Save' }).click();
    await expect(b.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
    await bobLeaves();
    await post(a, 'this one reaches Bob');

    // Pushes go out in the order the messages were posted, so once the last has come, any
    // for the first two would have come before it.
    await expect.poll(() => service.received.length, { timeout: 15_000 }).toBeGreaterThan(0);
    expect(service.received).toEqual([
      { ...service.received[0], title: aliceName, body: 'this one reaches Bob', url: `/r/${dm}#m3` },
    ]);
  } finally {
    await alice.close();
    await bob.close();
    await server.kill();
    await service.stop();
  }
});
