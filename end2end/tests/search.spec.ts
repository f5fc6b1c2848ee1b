// Search in a real browser, with and without JavaScript: the sidebar's search box finds a
// message the searcher may read (never one of someone else's DMs), the result opens its room at
// that message (marked and scrolled into view, though newer messages are many), and a malformed
// query says what to change.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, messageLog, register, uniqueName } from './helpers';

/** Posts `text` into `room` through the API, as the page's user. */
async function say(page: Page, room: number, text: string): Promise<void> {
  const res = await page.request.post('/api/post_message', { form: { room_id: String(room), text } });
  expect(res.status()).toBe(200);
}

/** A room made by the page's user, with 5 messages, the `target` text (seq 6), then 60 more. */
async function roomWithNeedle(page: Page, target: string): Promise<{ room: number; name: string }> {
  const name = uniqueName('find');
  const create = await page.request.post('/api/create_room', { form: { name } });
  expect(create.status()).toBe(200);
  const room = Number(await create.text());
  for (let i = 0; i < 5; i++) await say(page, room, `before ${i}`);
  await say(page, room, target);
  for (let i = 0; i < 60; i++) await say(page, room, `after ${i}`);
  return { room, name };
}

async function searchFor(page: Page, q: string): Promise<void> {
  const box = page.getByRole('navigation').getByRole('searchbox', { name: 'Search messages' });
  await box.fill(q);
  await page.getByRole('navigation').getByRole('button', { name: 'Search' }).click();
}

test('search finds a message and opens its room at it; other DMs stay private', async ({ browser }) => {
  const { a, b, aliceName, bobName } = await aliceAndBob(browser);
  const word = uniqueName('needle');
  const { room } = await roomWithNeedle(a, `the ${word} is *here*`);
  expect((await b.request.post('/api/join_room', { form: { room_id: String(room) } })).status()).toBe(200);
  // A DM between Alice and a third person holds the word too: Bob must never see it.
  const carol = await browser.newContext();
  const c = await carol.newPage();
  const carolName = uniqueName('carol');
  await register(c, carolName);
  const dm = await a.request.post('/api/open_dm', { form: { username: carolName } });
  await say(a, Number(await dm.text()), `private ${word} for carol`);

  await b.goto('/');
  await hydrated(b);
  await searchFor(b, word);
  await expect(b).toHaveURL(/\/search\?q=/);
  const results = b.getByRole('list', { name: 'Results' });
  await expect(results.getByRole('listitem')).toHaveCount(1);
  await expect(results).toContainText(aliceName);
  await expect(results.locator('em')).toHaveText('here');
  await expect(results).not.toContainText('carol');

  // Alice sees both, the DM named by the other person.
  await a.goto(`/search?q=${encodeURIComponent(word)}`);
  await hydrated(a);
  await expect(a.getByRole('list', { name: 'Results' }).getByRole('listitem')).toHaveCount(2);
  await expect(a.getByRole('link', { name: `@ ${carolName}` })).toBeVisible();

  // The result opens the room at the message, not at the newest page.
  await b.getByRole('list', { name: 'Results' }).getByRole('link').first().click();
  await expect(b).toHaveURL(new RegExp(`/r/${room}\\?at=6`));
  const found = messageLog(b).locator('article[aria-current="true"]');
  await expect(found).toContainText(word);
  await expect(found).toBeInViewport();
  await expect(messageLog(b)).toContainText('after 9');
  await expect(messageLog(b)).not.toContainText('after 59');
  await b.getByRole('link', { name: 'Jump to newest messages' }).click();
  await expect(messageLog(b).getByRole('article').last()).toContainText('after 59');

  // A malformed query says what to change.
  await searchFor(b, `"${word}`);
  await expect(b.getByRole('alert')).toContainText('quote is not closed');
  await searchFor(b, `${word} from:${bobName}`);
  await expect(b.getByText('No messages match.')).toBeVisible();
  await carol.close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('search and open the result with plain forms and links', async ({ page }) => {
    await register(page, uniqueName('nojs'), { js: false });
    const word = uniqueName('plain');
    const { name } = await roomWithNeedle(page, `found ${word} without scripts`);
    await searchFor(page, `${word} in:"${name}"`);
    await expect(page.getByRole('list', { name: 'Results' }).getByRole('listitem')).toHaveCount(1);
    await page.getByRole('list', { name: 'Results' }).getByRole('link').click();
    const found = messageLog(page).locator('article[aria-current="true"]');
    await expect(found).toContainText(word);
    await expect(found).toBeInViewport();
    await searchFor(page, 'before:someday x');
    await expect(page.getByRole('alert')).toContainText('YYYY-MM-DD');
  });
});
