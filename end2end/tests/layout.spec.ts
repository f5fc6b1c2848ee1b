// The layout at a phone's width (360 × 740) and a laptop's (1280 × 800), with the data that
// breaks layouts: a long name, a 40-character word, CJK text, a code block. On every page: no
// horizontal overflow; names and times on one line; every action reachable through its menu.
// Each page is also saved as a screenshot under test-results/layout/ to look at.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import {
  accountButton, createRoom, hydrated, messageLog, openAccountMenu, openMenu, openSidebar, post,
  register, send, startDm, uniqueName,
} from './helpers';

const SIZES = [
  { name: 'phone', width: 360, height: 740 },
  { name: 'laptop', width: 1280, height: 800 },
];

/** Neither the page nor the message list scrolls sideways. */
async function noSidewaysScroll(page: Page, what: string) {
  const widths = await page.evaluate(() => {
    const history = document.querySelector('.history');
    return {
      page: document.documentElement.scrollWidth,
      viewport: window.innerWidth,
      history: history ? history.scrollWidth - history.clientWidth : 0,
    };
  });
  expect(widths.page, `${what}: the page is wider than the screen`).toBeLessThanOrEqual(widths.viewport);
  expect(widths.history, `${what}: the message list scrolls sideways`).toBeLessThanOrEqual(0);
}

/** Each element `selector` matches renders on one line: no taller than 1.5 × its line height. */
async function oneLine(page: Page, selector: string) {
  const heights = await page.locator(selector).evaluateAll((els) =>
    els.map((el) => {
      const style = getComputedStyle(el);
      const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.45;
      return { text: el.textContent ?? '', height: el.getBoundingClientRect().height, line };
    }),
  );
  expect(heights.length, `${selector}: nothing to measure`).toBeGreaterThan(0);
  for (const h of heights) {
    expect(h.height, `"${h.text}" (${selector}) wraps`).toBeLessThanOrEqual(1.5 * h.line);
  }
}

async function shot(page: Page, size: string, name: string) {
  await page.screenshot({ path: `test-results/layout/${size}-${name}.png` });
}

for (const size of SIZES) {
  test(`every page fits and every action is reachable at ${size.width} px`, async ({ browser }) => {
    const phone = size.width < 640;
    const context = await browser.newContext({ viewport: { width: size.width, height: size.height } });
    const page = await context.newPage();
    // The longest name there can be: 32 characters.
    const name = `${uniqueName('layout')}_with_a_very_long_name`.slice(0, 32);
    const peer = uniqueName('peer');
    const other = await context.browser()!.newContext();
    await register(await other.newPage(), peer);
    await other.close();

    await register(page, name);
    await expect(accountButton(page)).toBeAttached();
    await noSidewaysScroll(page, 'welcome');
    await shot(page, size.name, 'welcome');

    // A room with a long name and the messages that break layouts.
    await page.goto('/rooms');
    await hydrated(page);
    await noSidewaysScroll(page, 'browse');
    await shot(page, size.name, 'browse');
    await openSidebar(page);
    const room = `release-planning-for-the-next-quarter-${uniqueName('r')}`.slice(0, 64);
    await createRoom(page, room);
    await hydrated(page);
    await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
    await post(page, `a word of forty characters: ${'x'.repeat(40)}`);
    await post(page, '发布计划已经更新，请大家查看。다음 분기 출시 계획을 확인해 주세요.');
    await send(page, '```\nfn main() { println!("a code block with a long line that must scroll inside itself"); }\n```');
    await expect(messageLog(page).locator('article:not([data-pending]) pre')).toContainText('a code block');
    await post(page, `https://example.com/${'a'.repeat(60)}`);
    await noSidewaysScroll(page, 'room');
    await oneLine(page, '.room-header .room-name');
    await oneLine(page, '.room-header .member-count');
    await oneLine(page, '.message .author');
    await oneLine(page, '.message header time');
    await shot(page, size.name, 'room');

    // A message's actions, through its "⋯" menu.
    const mine = messageLog(page).locator('article:not([data-pending])').filter({ hasText: 'forty characters' });
    const actions = await openMenu(mine, 'More actions');
    for (const action of ['Reply', 'React', 'Edit', 'Delete']) {
      await expect(actions.getByRole('link', { name: action, exact: true })).toBeVisible();
    }
    await noSidewaysScroll(page, 'message menu');
    await shot(page, size.name, 'message-menu');
    await actions.getByRole('link', { name: 'Reply', exact: true }).click();
    const thread = page.getByRole('complementary', { name: 'Thread' });
    await expect(thread).toBeVisible();
    await thread.getByRole('textbox', { name: 'Reply', exact: true }).fill('a reply in the thread');
    await thread.getByRole('button', { name: 'Reply', exact: true }).click();
    await expect(thread.getByText('a reply in the thread')).toBeVisible();
    await noSidewaysScroll(page, 'thread');
    await shot(page, size.name, 'thread');

    // The room's own menu: Mute and Leave.
    await page.goto(page.url().replace(/\?.*$/, ''));
    await hydrated(page);
    const roomMenu = await openMenu(page.locator('.room-header'), 'Room actions');
    await expect(roomMenu.getByRole('button', { name: 'Mute', exact: true })).toBeVisible();
    await expect(roomMenu.getByRole('button', { name: 'Leave', exact: true })).toBeVisible();
    await noSidewaysScroll(page, 'room menu');
    await shot(page, size.name, 'room-menu');

    // Search and a DM.
    await page.goto(`/search?q=${encodeURIComponent('forty')}`);
    await hydrated(page);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await noSidewaysScroll(page, 'search');
    await shot(page, size.name, 'search');
    await openSidebar(page);
    await startDm(page, peer);
    await expect(page.getByRole('heading', { level: 1, name: peer })).toBeVisible();
    await post(page, 'hello in a direct message');
    await noSidewaysScroll(page, 'dm');
    await shot(page, size.name, 'dm');

    // The sidebar (a drawer on phones) and the account menu: the name on one line, and
    // Notifications and Log out in reach.
    await openSidebar(page);
    await oneLine(page, '.user-menu .me');
    await shot(page, size.name, 'sidebar');
    const account = await openAccountMenu(page);
    await expect(account.getByRole('link', { name: 'Notifications' })).toBeVisible();
    await expect(account.getByRole('button', { name: 'Log out', exact: true })).toBeVisible();
    await noSidewaysScroll(page, 'account menu');
    await shot(page, size.name, 'account-menu');
    await account.getByRole('link', { name: 'Notifications' }).click();
    await expect(page.getByRole('heading', { name: 'Notifications', level: 1 })).toBeVisible();
    if (phone) {
      // Following a link closed the drawer: the page is in view again.
      await expect(page.getByRole('navigation', { name: 'Rooms and direct messages' })).toBeHidden();
    }
    await noSidewaysScroll(page, 'notifications');
    await shot(page, size.name, 'notifications');

    await openSidebar(page);
    await (await openAccountMenu(page)).getByRole('button', { name: 'Log out', exact: true }).click();
    await expect(accountButton(page)).toHaveCount(0);
    await noSidewaysScroll(page, 'login');
    await shot(page, size.name, 'login');
    await context.close();
  });
}

test('without JavaScript the phone drawer opens as a link target, and menus still open', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 360, height: 740 } });
  const page = await context.newPage();
  await register(page, uniqueName('nojsphone'), { js: false });
  const nav = page.getByRole('navigation', { name: 'Rooms and direct messages' });
  await expect(nav).toBeHidden();
  await page.getByRole('link', { name: 'Open rooms and direct messages' }).click();
  await expect(nav).toBeVisible();
  await nav.getByRole('link', { name: 'general' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'general' })).toBeVisible();
  await expect(nav).toBeHidden();
  const account = await (async () => {
    await page.getByRole('link', { name: 'Open rooms and direct messages' }).click();
    return openAccountMenu(page);
  })();
  await expect(account.getByRole('button', { name: 'Log out', exact: true })).toBeVisible();
  await context.close();
});
