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
