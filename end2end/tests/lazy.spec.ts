// The bundle split by page (issue 27): the room page loads without the code of the pages people
// open now and then (search, notifications, the room directory, administration), and each of
// those fetches its part of the WASM when first opened, then works, from a cold start and
// straight from its address.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { createRoom, hydrated, messageLog, openAccountMenu, post, register, uniqueName } from './helpers';

/** The split parts (`/pkg/*.wasm` other than the main module) the page has fetched so far. */
function watchParts(page: Page): string[] {
  const parts: string[] = [];
  page.on('request', (request) => {
    const path = new URL(request.url()).pathname;
    if (/^\/pkg\/.*\.wasm$/.test(path) && !/^\/pkg\/confab\.[^/]*\.wasm$/.test(path)) parts.push(path);
  });
  return parts;
}

test('pages split off the bundle load their part when first opened, and work', async ({ browser }) => {
  // A new context: nothing cached, no service worker yet.
  const context = await browser.newContext();
  const page = await context.newPage();
  const parts = watchParts(page);
  try {
    await register(page, uniqueName('lazy'));
    const word = uniqueName('split');
    await createRoom(page, uniqueName('parts'));
    await post(page, `the ${word} is here`);
    // From here on: what the room page itself fetches, not what /rooms fetched on the way.
    parts.length = 0;
    await page.reload();
    await hydrated(page);
    // The room page needs none of them.
    expect(parts, 'parts fetched by the room page').toEqual([]);

    // Search, from the sidebar: the results page's part comes, and it finds the message.
    const box = page.getByRole('navigation').getByRole('searchbox', { name: 'Search messages' });
    await box.fill(word);
    await page.getByRole('navigation').getByRole('button', { name: 'Search' }).click();
    await expect(page.getByRole('heading', { name: 'Search', level: 1 })).toBeVisible();
    await expect(page.getByRole('list', { name: 'Results' }).getByText(`is here`)).toBeVisible();
    expect(parts.length, 'parts after search').toBeGreaterThan(0);
    const afterSearch = parts.length;

    // Notifications, from the account menu: another part, and its form saves in place.
    await (await openAccountMenu(page)).getByRole('link', { name: 'Notifications' }).click();
    await expect(page.getByRole('heading', { name: 'Notifications', level: 1 })).toBeVisible();
    await page.getByLabel('Nothing').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
    expect(parts.length, 'parts after notifications').toBeGreaterThan(afterSearch);

    // The directory: its form creates a room without a page load.
    await page.goto('/');
    await hydrated(page);
    await page.getByRole('navigation').getByRole('link', { name: 'Browse rooms' }).click();
    await expect(page.getByRole('heading', { name: 'Rooms', level: 1 })).toBeVisible();
    const made = uniqueName('made');
    await page.getByLabel('Room name').fill(made);
    await page.getByRole('button', { name: 'Create room' }).click();
    await expect(page.getByRole('heading', { name: made })).toBeVisible();
    await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
  } finally {
    await context.close();
  }
});

test('a split-off page opened straight from its address hydrates and works', async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  try {
    await register(page, uniqueName('direct'));
    const word = uniqueName('direct');
    const room = await createRoom(page, uniqueName('direct'));
    await post(page, `straight to ${word}`);
    await page.goto(`/search?q=${word}`);
    await hydrated(page);
    const hit = page.getByRole('list', { name: 'Results' }).getByRole('link').first();
    await expect(hit).toBeVisible();
    // A client-side navigation (the app is live): the room opens at the message.
    await hit.click();
    await expect(page).toHaveURL(new RegExp(`/r/${room}\\?at=`));
    await expect(messageLog(page).getByText(`straight to ${word}`)).toBeVisible();
  } finally {
    await context.close();
  }
});
