// The core chat loop in a real browser: accounts, rooms, posting, history, DMs.
import { test, expect } from './fixtures';
import { createRoom, hydrated, logIn, messageLog, post, register, roomId, send, uniqueName, PASSWORD, startDm, logOut, accountButton } from './helpers';

test('two users: one creates a room and posts, the other joins and reads it', async ({ browser }) => {
  const alice = await browser.newContext();
  const bob = await browser.newContext();
  const a = await alice.newPage();
  const b = await bob.newPage();
  const aliceName = uniqueName('alice');
  await register(a, aliceName);
  await register(b, uniqueName('bob'));

  const room = uniqueName('room');
  await createRoom(a, room);
  await expect(a.getByRole('navigation').getByRole('link', { name: room })).toBeVisible();
  await post(a, 'Hello from Alice');

  await b.getByRole('link', { name: 'Browse rooms' }).click();
  await b.getByRole('link', { name: room }).click();
  await b.getByRole('button', { name: 'Join room' }).click();
  const message = messageLog(b).getByRole('article').filter({ hasText: 'Hello from Alice' });
  await expect(message).toBeVisible();
  await expect(message).toContainText(aliceName);
  // The time is rendered in the reader's locale once hydrated, with the instant in datetime.
  await expect(message.locator('time')).toHaveAttribute('datetime', /^\d{4}-\d\d-\d\dT/);
  await expect(message.locator('time')).not.toContainText('UTC');
  await expect(b.getByRole('navigation').getByRole('link', { name: room })).toBeVisible();
  await alice.close();
  await bob.close();
});

test('history pages back through 120 messages with "Load older"', async ({ page }) => {
  await register(page, uniqueName('pager'));
  const room = await createRoom(page, uniqueName('long'));
  for (let i = 1; i <= 120; i++) {
    const res = await page.request.post('/api/post_message', {
      form: { room_id: String(room), text: `message ${i}` },
    });
    expect(res.status()).toBe(200);
  }
  await page.reload();
  await hydrated(page);
  const articles = messageLog(page).getByRole('article');
  await expect(articles).toHaveCount(50);
  await expect(articles.first()).toContainText('message 71');
  await expect(articles.last()).toContainText('message 120');

  await page.getByRole('button', { name: 'Load older' }).click();
  await expect(articles).toHaveCount(100);
  await expect(articles.first()).toContainText('message 21');
  await page.getByRole('button', { name: 'Load older' }).click();
  await expect(articles).toHaveCount(120);
  await expect(articles.first()).toContainText('message 1');
  await expect(page.getByRole('button', { name: 'Load older' })).toHaveCount(0);
  // In order, with nothing twice.
  const texts = await articles.locator('p').allTextContents();
  expect(texts).toEqual(Array.from({ length: 120 }, (_, i) => `message ${i + 1}`));
});

test('a DM is visible to its two members only', async ({ browser }) => {
  const [ca, cb, cc] = [await browser.newContext(), await browser.newContext(), await browser.newContext()];
  const [a, b, c] = [await ca.newPage(), await cb.newPage(), await cc.newPage()];
  const aliceName = uniqueName('alice');
  const bobName = uniqueName('bob');
  await register(a, aliceName);
  await register(b, bobName);
  await register(c, uniqueName('carol'));

  await startDm(a, bobName);
  await expect(a.getByRole('heading', { level: 1, name: bobName })).toBeVisible();
  await post(a, 'just between us');
  const dm = roomId(a);

  await b.reload();
  await hydrated(b);
  await b.getByRole('navigation').getByRole('link', { name: aliceName }).click();
  await expect(messageLog(b).getByRole('article').filter({ hasText: 'just between us' })).toBeVisible();

  await c.goto(`/r/${dm}`);
  await expect(c.getByRole('alert')).toContainText('does not exist');
  await expect(c.getByText('just between us')).toHaveCount(0);
  await expect(c.getByRole('navigation').getByRole('link', { name: aliceName })).toHaveCount(0);
  const direct = await c.request.post('/api/history', { form: { room_id: String(dm) } });
  expect(direct.status()).toBe(404);
  expect(await direct.text()).not.toContain('just between us');

  await startDm(b, 'nobody-by-that-name');
  await expect(b.getByRole('alert')).toContainText('no user named');
  for (const ctx of [ca, cb, cc]) await ctx.close();
});

test('message text is rendered inert, and bad messages are refused in the UI', async ({ browser }) => {
  const alice = await browser.newContext();
  const bob = await browser.newContext();
  const a = await alice.newPage();
  const b = await bob.newPage();
  let dialogs = 0;
  for (const p of [a, b]) p.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  await register(a, uniqueName('alice'));
  await register(b, uniqueName('bob'));
  await a.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await hydrated(a);
  const payload = '<img src=x onerror=alert(1)><script>alert(2)</script>';
  await post(a, payload);
  await b.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  const shown = messageLog(b).getByRole('article').filter({ hasText: payload });
  await expect(shown).toBeVisible();
  await expect(messageLog(b).locator('img')).toHaveCount(0);
  await b.reload();
  await hydrated(b);
  await expect(shown).toBeVisible();
  expect(dialogs).toBe(0);

  // The refusals are counted in a room of Alice's own: other tests post to `general` meanwhile.
  await createRoom(a, uniqueName('quiet'));
  await post(a, 'the only message here');
  await send(a, '   ');
  await expect(a.getByRole('alert')).toContainText('Type a message first');
  await send(a, 'x'.repeat(4001));
  await expect(a.getByRole('alert')).toContainText('at most 4000 characters');
  await a.reload();
  await hydrated(a);
  await expect(messageLog(a).getByRole('article')).toHaveCount(1);
  await alice.close();
  await bob.close();
});

test('history survives a reload and a new login; wrong passwords are refused', async ({ page }) => {
  const name = uniqueName('dora');
  await register(page, name);
  await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await hydrated(page);
  await post(page, 'still here after reload');
  await page.reload();
  await hydrated(page);
  await expect(messageLog(page).getByText('still here after reload')).toBeVisible();

  await logOut(page);
  await expect(page.getByRole('region', { name: 'Log in' })).toBeVisible();
  await logIn(page, name, 'not my password');
  await expect(page.getByRole('alert')).toContainText('Wrong username or password');
  await logIn(page, name, PASSWORD);
  await expect(accountButton(page)).toBeVisible();
  await expect(messageLog(page).getByText('still here after reload')).toBeVisible();
});
