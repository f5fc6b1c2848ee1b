// Access tokens as a person uses them: Alice makes one on the "Access tokens" page, copies the
// secret shown once, and a script posts with it over HTTP; the message appears live on her open
// room. Revoking it stops the script at once. Without JavaScript the page does the same.
import { test, expect } from './fixtures';
import type { Page } from '@playwright/test';
import { hydrated, messageLog, openAccountMenu, register, uniqueName } from './helpers';

/** Makes a token on the page; returns its secret, as the page shows it once. */
async function makeToken(page: Page, name: string, scopes: string[]): Promise<string> {
  await page.getByLabel('Name').fill(name);
  for (const scope of ['Read', 'Write']) {
    const box = page.getByRole('checkbox', { name: new RegExp(`^${scope}:`) });
    if (scopes.includes(scope)) await box.check();
    else await box.uncheck();
  }
  await page.getByLabel('Expires').selectOption('30');
  await page.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByRole('status').filter({ hasText: 'Copy it now' });
  await expect(shown).toBeVisible();
  const secret = await shown.getByLabel('Token').inputValue();
  expect(secret).toMatch(/^cfb_[A-Za-z0-9_-]{43}$/);
  return secret;
}

test('a token made in the UI posts over HTTP, live in the room, until it is revoked', async ({ page, request }) => {
  await register(page, uniqueName('tok'));
  await (await openAccountMenu(page)).getByRole('link', { name: 'Access tokens' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Access tokens' })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText('You have no tokens.')).toBeVisible();
  const secret = await makeToken(page, 'Build bot', ['Read', 'Write']);
  const list = page.getByRole('region', { name: 'Your tokens' });
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list).toContainText('Build bot');
  await expect(list).toContainText('read, write');
  await expect(list).toContainText('never used');
  await expect(list).not.toContainText(secret);

  // Alice opens general; a script posts there with the token.
  await page.goto('/');
  await hydrated(page);
  await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'general' })).toBeVisible();
  const general = Number(/\/r\/(\d+)/.exec(page.url())![1]);
  const auth = { Authorization: `Bearer ${secret}` };
  const build = Date.now() % 100000;
  const posted = await request.post(`/api/v1/rooms/${general}/messages`, {
    headers: auth,
    data: { text: `Build **#${build}** passed`, client_id: `build-${build}` },
  });
  expect(posted.status()).toBe(201);
  const live = messageLog(page).getByRole('article').filter({ hasText: `Build #${build} passed` });
  await expect(live).toBeVisible();
  await expect(live.locator('strong')).toHaveText(`#${build}`);

  // The page says it was used; revoking it stops the script on its next request.
  await page.goto('/tokens');
  await hydrated(page);
  await expect(list).toContainText('last used');
  await list.getByRole('button', { name: 'Revoke token Build bot' }).click();
  await expect(page.getByText('You have no tokens.')).toBeVisible();
  const refused = await request.get('/api/v1/me', { headers: auth });
  expect(refused.status()).toBe(401);
  expect((await refused.json()).error.code).toBe('unauthorized');

  // The page leads to what a token can do: the API's reference, served by this server.
  await page.getByRole('link', { name: 'API reference' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Confab API' })).toBeVisible();
  const calls = page.getByRole('navigation', { name: 'Calls' });
  await expect(calls).toContainText('POST /rooms/{room}/messages');
  await calls.getByRole('link', { name: 'POST /rooms/{room}/messages', exact: true }).click();
  await expect(page.locator('section:target')).toContainText('Post a message');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the new secret is shown once with the page, and works', async ({ page, request }) => {
    await register(page, uniqueName('toknojs'), { js: false });
    await page.goto('/tokens');
    const secret = await makeToken(page, 'Cron job', ['Read']);
    const me = await request.get('/api/v1/me', { headers: { Authorization: `Bearer ${secret}` } });
    expect(me.status()).toBe(200);
    expect((await me.json()).scopes).toEqual(['read']);
    // Read-only: it may not post.
    const post = await request.post('/api/v1/rooms/1/messages', {
      headers: { Authorization: `Bearer ${secret}` },
      data: { text: 'nope' },
    });
    expect(post.status()).toBe(403);
    // A reload does not show the secret again.
    await page.reload();
    await expect(page.getByRole('region', { name: 'Your tokens' })).toContainText('Cron job');
    await expect(page.getByText('Copy it now')).toHaveCount(0);
  });
});
