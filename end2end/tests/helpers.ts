// Shared steps for the browser tests: they act as a person would, through labels and roles.
import { expect, Browser, BrowserContext, BrowserContextOptions, Page, Locator } from '@playwright/test';
import { deflateSync } from 'node:zlib';

/** A username unique to this run and test. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** Waits until the WASM app has taken over the server-rendered page (clicks before that land on dead HTML).
 * A page that never does fails saying how far it got: the state of the document, its service
 * worker, and each script and WASM file it fetched. */
export async function hydrated(page: Page): Promise<void> {
  try {
    await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 30_000 });
  } catch (error) {
    const state = await page
      .evaluate(() => ({
        url: location.href,
        readyState: document.readyState,
        worker: navigator.serviceWorker?.controller?.state ?? 'none',
        code: performance
          .getEntriesByType('resource')
          .filter((e) => /\.(js|wasm)$/.test(e.name))
          .map((e) => {
            const r = e as PerformanceResourceTiming;
            return `${r.name.split('/').pop()} ${Math.round(r.duration)}ms ${r.transferSize}B`;
          }),
      }))
      .catch((e) => String(e));
    throw new Error(`the page did not hydrate: ${JSON.stringify(state)}\n${error}`);
  }
}

export const PASSWORD = 'correct horse battery';

/** Opens Confab and registers `name`; leaves the member's home page open. */
export async function register(page: Page, name: string, opts: { js?: boolean } = {}): Promise<void> {
  await page.goto('/');
  if (opts.js !== false) await hydrated(page);
  const form = page.getByRole('region', { name: 'Register' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Register' }).click();
  // Signed in: the account menu exists (on a phone it waits in the closed drawer).
  await expect(accountButton(page)).toBeAttached();
}

/** The button of the account menu at the sidebar's foot ("Account: alice"); there only while
 * someone is signed in. */
export function accountButton(page: Page): Locator {
  return page.locator('summary[aria-label^="Account: "]');
}

/** On a phone (narrower than 640 px) the sidebar is a drawer over the page: opens it, and
 * waits until it shows. On wider screens the sidebar is always there and nothing is done. */
export async function openSidebar(page: Page): Promise<void> {
  const width = page.viewportSize()?.width ?? 1280;
  if (width >= 640) return;
  await page.getByRole('link', { name: 'Open rooms and direct messages' }).click();
  await expect(page.getByRole('navigation', { name: 'Rooms and direct messages' })).toBeVisible();
}

/** Opens the menu whose button (a <details> summary) is named `label`, inside `scope`, and
 * returns the menu; it stays open if it already is. */
export async function openMenu(scope: Page | Locator, label: string): Promise<Locator> {
  const summary = scope.locator(`summary[aria-label="${label}"]`).first();
  const menu = summary.locator('xpath=..');
  if ((await menu.getAttribute('open')) === null) await summary.click();
  await expect(menu).toHaveAttribute('open', '');
  return menu;
}

/** Opens the account menu (Notifications, data downloads, Log out…). */
export async function openAccountMenu(page: Page): Promise<Locator> {
  const summary = accountButton(page);
  const menu = summary.locator('xpath=..');
  if ((await menu.getAttribute('open')) === null) await summary.click();
  await expect(menu).toHaveAttribute('open', '');
  return menu;
}

/** Logs out from the account menu. */
export async function logOut(page: Page): Promise<void> {
  await (await openAccountMenu(page)).getByRole('button', { name: 'Log out', exact: true }).click();
}

/** Follows the action named `name` (Reply, React, Edit, Delete) from a message's "⋯" menu. */
export async function messageAction(message: Locator, name: string): Promise<void> {
  await (await openMenu(message, 'More actions')).getByRole('link', { name, exact: true }).click();
}

/** Opens the room header's menu (Mute, Leave). */
export async function openRoomMenu(page: Page): Promise<Locator> {
  return openMenu(page.locator('.room-header'), 'Room actions');
}

/** Opens the members panel from the room header's member count ("3 members") and returns it. */
export async function openMembers(page: Page): Promise<Locator> {
  const panel = page.getByRole('complementary', { name: 'Members' });
  if (!(await panel.isVisible())) {
    await page.locator('.room-header').getByRole('link', { name: /^\d+ members?$/ }).click();
  }
  await expect(panel).toBeVisible();
  return panel;
}

/** Fills the "+" menu's direct-message form with `names` and sends it. */
export async function startDm(page: Page, names: string): Promise<void> {
  const menu = await openMenu(page.getByRole('navigation'), 'New room or direct message');
  await menu.getByLabel('Start a direct message').fill(names);
  await menu.getByRole('button', { name: 'Open', exact: true }).click();
}

/** Logs in as `name` from the visitor screen. */
export async function logIn(page: Page, name: string, password = PASSWORD): Promise<void> {
  const form = page.getByRole('region', { name: 'Log in' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Log in' }).click();
}

/** The message list of the open room. */
export function messageLog(page: Page): Locator {
  return page.getByRole('log', { name: 'Messages' });
}

/** Opens `general` from the sidebar and waits until its live socket is open. */
export async function openGeneral(page: Page): Promise<void> {
  await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await hydrated(page);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
}

/** Types `text` in the composer and sends it. */
export async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** Sends `text` and waits until the server has confirmed it (it is no longer pending). */
export async function post(page: Page, text: string): Promise<void> {
  await send(page, text);
  await expect(
    messageLog(page).locator('article:not([data-pending])').filter({ hasText: text }),
  ).toBeVisible();
}

/** Creates a public room from the directory and returns its id. */
export async function createRoom(page: Page, name: string): Promise<number> {
  await page.getByRole('link', { name: 'Browse rooms' }).click();
  await page.getByRole('textbox', { name: 'Room name' }).fill(name);
  await page.getByRole('button', { name: 'Create room' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  return roomId(page);
}

/** The id of the room open in `page`. */
export function roomId(page: Page): number {
  const match = /\/r\/(\d+)/.exec(page.url());
  if (!match) throw new Error(`not on a room page: ${page.url()}`);
  return Number(match[1]);
}

/** Opens (creating on first use) the DM with `username` from the sidebar; returns its room id. */
export async function openDm(page: Page, username: string): Promise<number> {
  await startDm(page, username);
  await expect(page.getByRole('heading', { level: 1, name: username })).toBeVisible();
  return roomId(page);
}

/** Bob leaves `general` so that other tests' traffic there cannot change his unread counts. */
export async function leaveGeneral(page: Page): Promise<void> {
  const res = await page.request.post('/api/leave_room', { form: { room_id: '1' } });
  expect(res.status()).toBe(200);
}

/** The sidebar link of a room or DM (its accessible name includes the unread badge). */
export function sidebarLink(page: Page, name: string): Locator {
  return page.getByRole('navigation').getByRole('listitem').filter({ hasText: name }).getByRole('link');
}

/** Alice and Bob, each registered in a browser context of their own (with its own options, such
 * as a baseURL that goes through a proxy), each left on their home page. */
export async function aliceAndBob(
  browser: Browser,
  opts: {
    alice?: BrowserContextOptions;
    bob?: BrowserContextOptions;
    /** Runs on Bob's context before his first page opens (permissions, init scripts). */
    prepareBob?: (bob: BrowserContext) => Promise<void>;
  } = {},
) {
  const alice = await browser.newContext(opts.alice);
  const bob = await browser.newContext(opts.bob);
  await opts.prepareBob?.(bob);
  const a = await alice.newPage();
  const b = await bob.newPage();
  const aliceName = uniqueName('alice');
  const bobName = uniqueName('bob');
  await register(a, aliceName);
  await register(b, bobName);
  return { alice, bob, a, b, aliceName, bobName };
}

/** CRC-32 as PNG chunks need it. */
function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** A real RGB PNG of `width` × `height` pixels (a gradient). */
export function png(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits, RGB, deflate, no filter, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) rows.set([x % 256, y % 256, (x + y) % 256], row + 1 + x * 3);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
