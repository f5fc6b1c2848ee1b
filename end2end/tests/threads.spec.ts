// Threads: a reply shows live in the other person's open thread and as a count on the root,
// survives a reconnect, counts as unread for the root's author, and works without JavaScript.
import { test, expect } from './fixtures';
import { aliceAndBob, createRoom, hydrated, messageLog, post, register, send, uniqueName, messageAction } from './helpers';
import { CuttableProxy } from './servers';
import type { Page } from '@playwright/test';

const replies = (page: Page) => page.getByRole('log', { name: 'Replies' });

async function replyInThread(page: Page, text: string, alsoInRoom = false): Promise<void> {
  const thread = page.getByRole('complementary', { name: 'Thread' });
  await thread.getByRole('textbox', { name: 'Reply', exact: true }).fill(text);
  if (alsoInRoom) await thread.getByLabel('Also send to the room').check();
  await thread.getByRole('button', { name: 'Reply', exact: true }).click();
}

test('a thread reply shows live, counts on its root, and survives a reconnect', async ({ browser, baseURL }) => {
  const proxy = await CuttableProxy.start(Number(new URL(baseURL ?? '').port));
  // Alice reaches the server only through the proxy; Bob directly.
  const { alice, bob, a, b } = await aliceAndBob(browser, { alice: { baseURL: proxy.url } });
  const room = uniqueName('threads');
  await createRoom(a, room);
  await b.goto(new URL(a.url()).pathname);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await post(a, 'who reviews the release notes?');
  const root = messageLog(b).getByRole('article').filter({ hasText: 'who reviews the release notes?' });
  await expect(root).toBeVisible();

  // Bob opens the thread from the message and replies; Alice sees the count appear live.
  await messageAction(root, 'Reply');
  await expect(b.getByRole('complementary', { name: 'Thread' })).toBeVisible();
  await replyInThread(b, 'I will, after lunch');
  await expect(replies(b).locator('article:not([data-pending])').filter({ hasText: 'I will, after lunch' })).toBeVisible();
  const aliceRoot = messageLog(a).getByRole('article').filter({ hasText: 'who reviews the release notes?' });
  await expect(aliceRoot.getByRole('link', { name: '1 reply' })).toBeVisible();
  await expect(messageLog(a).getByText('I will, after lunch')).toHaveCount(0);

  // Alice opens it, and from then on sees Bob's replies arrive.
  await aliceRoot.getByRole('link', { name: '1 reply' }).click();
  await expect(replies(a).getByText('I will, after lunch')).toBeVisible();
  await replyInThread(b, 'done: two typos fixed', true);
  await expect(replies(a).getByText('done: two typos fixed')).toBeVisible();
  // Also sent to the room: in the timeline too, marked as a reply.
  const inRoom = messageLog(a).getByRole('article').filter({ hasText: 'done: two typos fixed' });
  await expect(inRoom.getByRole('link', { name: 'Replied in a thread' })).toBeVisible();
  await expect(aliceRoot.getByRole('link', { name: '2 replies' })).toBeVisible();

  // Cut Alice's connection, reply while she is away: the open thread and the root's count
  // catch up when it is back.
  await proxy.cut();
  await expect(a.getByText('Connection lost. Reconnecting…')).toBeVisible();
  await replyInThread(b, 'one more thing while you were gone');
  await expect(replies(b).locator('article:not([data-pending])').filter({ hasText: 'one more thing' })).toBeVisible();
  await expect(replies(a).getByText('one more thing while you were gone')).toHaveCount(0);
  await proxy.restore();
  await expect(messageLog(a)).toHaveAttribute('data-live', 'open', { timeout: 15_000 });
  await expect(replies(a).getByText('one more thing while you were gone')).toBeVisible({ timeout: 10_000 });
  await expect(aliceRoot.getByRole('link', { name: '3 replies' })).toBeVisible();
  await alice.close();
  await bob.close();
  await proxy.stop();
});

test('a reply in a thread you follow is unread until you open the thread', async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const room = uniqueName('follow');
  await createRoom(a, room);
  await b.goto(new URL(a.url()).pathname);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await post(a, 'root by alice');
  // Alice goes elsewhere; Bob replies in her thread.
  await a.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await hydrated(a);
  await messageAction(messageLog(b).getByRole('article').filter({ hasText: 'root by alice' }), 'Reply');
  await replyInThread(b, 'a reply for alice');
  const link = a.getByRole('navigation').getByRole('listitem').filter({ hasText: room });
  await expect(link.getByLabel('1 unread message')).toBeVisible();
  await link.getByRole('link').click();
  // Reading the room is not reading the thread.
  await expect(messageLog(a).getByRole('article').filter({ hasText: 'root by alice' })).toBeVisible();
  await expect(link.getByLabel('1 unread message')).toBeVisible();
  await messageLog(a).getByRole('article').filter({ hasText: 'root by alice' }).getByRole('link', { name: '1 reply' }).click();
  await expect(replies(a).getByText('a reply for alice')).toBeVisible();
  await expect(link.locator('.badge')).toHaveCount(0);
  await alice.close();
  await bob.close();
});

test('a reply left in the outbox is sent when the thread is opened straight from its address', async ({ browser, baseURL }) => {
  const proxy = await CuttableProxy.start(Number(new URL(baseURL ?? '').port));
  const context = await browser.newContext({ baseURL: proxy.url });
  const errors: string[] = [];
  context.on('weberror', (e) => errors.push(e.error().message));
  const page = await context.newPage();
  await register(page, uniqueName('outbox'));
  await createRoom(page, uniqueName('waiting'));
  await post(page, 'a root with a reply on its way');
  await messageAction(messageLog(page).getByRole('article').filter({ hasText: 'a root with a reply on its way' }), 'Reply');
  await expect(page.getByRole('complementary', { name: 'Thread' })).toBeVisible();
  const address = new URL(page.url());
  expect(address.searchParams.get('thread')).toMatch(/^\d+$/);

  // Written while the connection is down: it waits in the outbox, and the tab closes.
  await proxy.cut();
  await expect(page.getByText('Connection lost. Reconnecting…')).toBeVisible();
  await replyInThread(page, 'written on the train');
  await expect(replies(page).locator('article[data-pending]')).toHaveCount(1);
  await page.close();

  // Back online, straight to the thread's address: the page hydrates (the server rendered no
  // pending reply, so the browser's first render must not either), then sends it, once.
  await proxy.restore();
  const again = await context.newPage();
  await again.goto(address.pathname + address.search);
  await hydrated(again);
  await expect(replies(again).locator('article:not([data-pending])').filter({ hasText: 'written on the train' })).toBeVisible({ timeout: 15_000 });
  await expect(replies(again).locator('article[data-pending]')).toHaveCount(0);
  await again.reload();
  await hydrated(again);
  await expect(replies(again).getByText('written on the train')).toHaveCount(1);
  expect(errors, 'no script error (a failed hydration panics)').toEqual([]);
  await context.close();
  await proxy.stop();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('open a thread, reply, and also send to the room with plain forms', async ({ page }) => {
    await register(page, uniqueName('nojs'), { js: false });
    await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
    await send(page, 'a root without scripts');
    const root = messageLog(page).getByRole('article').filter({ hasText: 'a root without scripts' });
    await messageAction(root, 'Reply');
    await expect(page.getByRole('complementary', { name: 'Thread' })).toBeVisible();
    await replyInThread(page, 'a plain reply');
    await expect(replies(page).getByText('a plain reply')).toBeVisible();
    await replyInThread(page, 'also for everyone', true);
    await expect(replies(page).getByText('also for everyone')).toBeVisible();
    await expect(messageLog(page).getByRole('article').filter({ hasText: 'also for everyone' })).toBeVisible();
    await expect(messageLog(page).getByText('a plain reply')).toHaveCount(0);
    await expect(root.getByRole('link', { name: '2 replies' })).toBeVisible();
    await replyInThread(page, '   ');
    await expect(page.getByRole('alert')).toContainText('Type a message first');
  });
});
