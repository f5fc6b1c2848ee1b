// Incoming webhooks as a team connects its CI: the room's owner opens Webhooks from the room's
// menu, names the hook's bot and copies the URL shown once; a Slack-style POST to it appears
// live in the room, under the bot's name marked "bot", and the bot is listed among the members
// as one. Revoking the hook makes the URL post nothing.
import { test, expect } from './fixtures';
import { createRoom, hydrated, messageLog, openMembers, openRoomMenu, register, uniqueName } from './helpers';

test('a webhook made in the room menu posts live as its bot until it is revoked', async ({ page, request }) => {
  await register(page, uniqueName('hook'));
  const room = await createRoom(page, uniqueName('builds'));
  await (await openRoomMenu(page)).getByRole('link', { name: 'Webhooks' }).click();
  await expect(page.getByRole('heading', { level: 1, name: /^Webhooks of #/ })).toBeVisible();
  await hydrated(page);
  await expect(page.getByText('This room has no webhooks.')).toBeVisible();

  const bot = uniqueName('ci');
  await page.getByLabel('Bot name').fill(bot);
  await page.getByRole('button', { name: 'Create webhook' }).click();
  const shown = page.getByRole('status').filter({ hasText: 'Copy its address now' });
  await expect(shown).toBeVisible();
  const url = await shown.getByLabel('Webhook URL').inputValue();
  expect(url).toMatch(/\/hooks\/whk_[A-Za-z0-9_-]{43}$/);
  const list = page.getByRole('region', { name: "This room's webhooks" });
  await expect(list.getByRole('listitem')).toHaveCount(1);
  await expect(list).toContainText(bot);
  await expect(list).not.toContainText(url);

  // Back in the room, a CI job posts as Slack's clients do.
  await page.getByRole('link', { name: /^← Back to #/ }).click();
  await hydrated(page);
  expect(page.url()).toContain(`/r/${room}`);
  const build = Date.now() % 100000;
  const posted = await request.post(url, {
    data: { text: `Build <https://ci.example/${build}|#${build}> passed`, username: 'someone-else' },
  });
  expect(posted.status()).toBe(200);
  expect(await posted.text()).toBe('ok');
  const live = messageLog(page).getByRole('article').filter({ hasText: `Build #${build} passed` });
  await expect(live).toBeVisible();
  await expect(live.locator('.author')).toHaveText(bot);
  await expect(live.locator('.bot-tag')).toHaveText(/bot/i);
  await expect(live.getByRole('link', { name: `#${build}` })).toHaveAttribute('href', `https://ci.example/${build}`);
  const members = await openMembers(page);
  await expect(members.getByRole('listitem').filter({ hasText: bot }).locator('.bot-tag')).toBeVisible();

  // Revoked, the URL posts nothing.
  await page.goto(`/r/${room}/hooks`);
  await hydrated(page);
  await expect(list).toContainText('last posted');
  await list.getByRole('button', { name: `Revoke webhook ${bot}` }).click();
  await expect(page.getByText('This room has no webhooks.')).toBeVisible();
  const refused = await request.post(url, { data: { text: 'too late' } });
  expect(refused.status()).toBe(404);
});
