// Reading a conversation: one author's run of messages grouped under one name, a separator for
// each day, a "New messages" divider at the first message that was unread when the room opened,
// and "Jump to latest" once the reader has scrolled up.
import { test, expect } from './fixtures';
import {
  aliceAndBob, createRoom, hydrated, messageLog, post, register, send, uniqueName,
} from './helpers';

test('a room reads in groups, by day, from the first unread message', async ({ browser }) => {
  const { alice, bob, a, b, aliceName } = await aliceAndBob(browser);
  const id = await createRoom(a, `reading-${Date.now()}`);
  await hydrated(a);
  await expect(messageLog(a)).toHaveAttribute('data-live', 'open');
  await post(a, 'before bob read');

  await b.goto(`/r/${id}`);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b).getByText('before bob read')).toBeVisible();
  await hydrated(b);
  // Bob has read the room; he goes elsewhere while Alice writes on.
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  await b.goto('/');
  for (const text of ['unread one', 'unread two', 'unread three']) await post(a, text);

  await b.goto(`/r/${id}`);
  await hydrated(b);
  const log = messageLog(b);
  const divider = log.locator('.new-divider');
  await expect(divider).toHaveText('New messages');
  await expect(divider).toHaveCount(1);
  // The divider stands right above the first unread message.
  const next = await divider.evaluate((el) => el.nextElementSibling?.textContent ?? '');
  expect(next).toContain('unread one');

  // Alice's run after the divider: its first message carries her name, the others join it,
  // still named for screen readers.
  const article = (text: string) => log.locator('article:not([data-pending])').filter({ hasText: text });
  await expect(article('unread one')).not.toHaveClass(/compact/);
  await expect(article('unread two')).toHaveClass(/compact/);
  await expect(article('unread three')).toHaveClass(/compact/);
  await expect(article('unread three').locator('.author')).toHaveText(aliceName);
  // All of it was said today: one separator, named in the reader's language once hydrated.
  await expect(log.locator('.day-separator')).toHaveCount(1);
  await expect(log.locator('.day-separator')).toHaveText('Today');
  // Times sit under their day: the time of day alone.
  await expect(article('unread one').locator('header time')).toHaveText(/^\d{1,2}:\d\d/);

  await alice.close();
  await bob.close();
});

test('"Jump to latest" appears when scrolled up and brings the newest message back', async ({ browser }) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 520 } });
  const page = await context.newPage();
  await register(page, uniqueName('scroller'));
  await createRoom(page, `scrolling-${Date.now()}`);
  await hydrated(page);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
  for (let i = 1; i <= 40; i++) await send(page, `line ${i} of a long conversation`);
  await expect(messageLog(page).locator('article:not([data-pending])').filter({ hasText: 'line 40 of' })).toBeVisible();

  const jump = page.getByRole('button', { name: 'Jump to latest' });
  await expect(jump).toHaveCount(0);
  await page.locator('.history').evaluate((el) => { el.scrollTop = -el.scrollHeight; });
  await expect(jump).toBeVisible();
  await expect(messageLog(page).getByText('line 40 of')).not.toBeInViewport();
  await jump.click();
  await expect(messageLog(page).getByText('line 40 of')).toBeInViewport();
  await expect(jump).toHaveCount(0);
  await context.close();
});
