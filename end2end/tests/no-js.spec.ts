// Everything a member does also works with JavaScript off: plain forms and full page loads.
import { test, expect } from './fixtures';
import { logIn, messageLog, register, send, uniqueName, PASSWORD, logOut, accountButton } from './helpers';

test.use({ javaScriptEnabled: false });

test('register, log out, log in, post and read without JavaScript', async ({ page }) => {
  const name = uniqueName('nojs');
  await register(page, name, { js: false });
  await logOut(page);
  await expect(page.getByRole('region', { name: 'Log in' })).toBeVisible();
  await logIn(page, name, 'wrong password!');
  await expect(page.getByRole('alert')).toContainText('Wrong username or password');
  await logIn(page, name, PASSWORD);
  await expect(accountButton(page)).toBeVisible();

  await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await send(page, 'posted with a plain form');
  await expect(messageLog(page).getByRole('article').filter({ hasText: 'posted with a plain form' })).toBeVisible();
  await expect(messageLog(page).getByRole('article').filter({ hasText: name }).first()).toBeVisible();
  await send(page, '');
  await expect(page.getByRole('alert')).toContainText('Type a message first');

  // A room of our own, and paging back with the "Load older" form.
  await page.getByRole('link', { name: 'Browse rooms' }).click();
  const room = uniqueName('quiet');
  await page.getByRole('textbox', { name: 'Room name' }).fill(room);
  await page.getByRole('button', { name: 'Create room' }).click();
  await expect(page.getByRole('heading', { level: 1, name: room })).toBeVisible();
  const id = /\/r\/(\d+)/.exec(page.url())![1];
  for (let i = 1; i <= 60; i++) {
    await page.request.post('/api/post_message', { form: { room_id: id, text: `old ${i}` } });
  }
  await page.reload();
  await expect(messageLog(page).getByRole('article')).toHaveCount(50);
  await page.getByRole('button', { name: 'Load older' }).click();
  await expect(messageLog(page).getByRole('article')).toHaveCount(10);
  await expect(messageLog(page).getByRole('article').first()).toContainText('old 1');
  await page.getByRole('link', { name: 'Jump to newest messages' }).click();
  await expect(messageLog(page).getByRole('article').last()).toContainText('old 60');
});

test('the members panel and a member menu work without JavaScript', async ({ browser, page }) => {
  await register(page, uniqueName('nojsmembers'), { js: false });
  await page.getByRole('link', { name: 'Browse rooms' }).click();
  const room = uniqueName('members');
  await page.getByRole('textbox', { name: 'Room name' }).fill(room);
  await page.getByRole('button', { name: 'Create room' }).click();
  await expect(page.getByRole('heading', { level: 1, name: room })).toBeVisible();
  const url = page.url();
  // Someone joins, also without JavaScript.
  const other = await browser.newContext({ javaScriptEnabled: false });
  const peer = uniqueName('nojspeer');
  const p = await other.newPage();
  await register(p, peer, { js: false });
  await p.goto(url);
  await p.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(p)).toBeVisible();
  await other.close();

  await page.reload();
  await page.locator('.room-header').getByRole('link', { name: '2 members' }).click();
  const panel = page.getByRole('complementary', { name: 'Members' });
  await expect(panel).toBeVisible();
  await expect(page).toHaveURL(/\?members/);
  // The menu is a <details>: it opens without script, and its form is a plain post.
  await panel.locator(`summary[aria-label="Actions for ${peer}"]`).click();
  await expect(panel.getByRole('button', { name: 'Remove from room' })).toBeVisible();
  await panel.getByRole('button', { name: 'Send a direct message' }).click();
  await expect(page.getByRole('heading', { level: 1, name: peer })).toBeVisible();
  // In a DM of two there is nothing to do about the other from here: no menu. Closing the
  // panel is a link too.
  await page.locator('.room-header').getByRole('link', { name: '2 members' }).click();
  await expect(panel).toBeVisible();
  await expect(panel.locator('summary')).toHaveCount(0);
  await panel.getByRole('link', { name: 'Close members' }).click();
  await expect(panel).toBeHidden();
});
