// Incoming webhooks as a team connects its CI: the room's owner opens Webhooks from the room's
// menu, names the hook's bot and copies the URL shown once; a Slack-style POST to it appears
// live in the room, under the bot's name marked "bot", and the bot is listed among the members
// as one. Revoking the hook makes the URL post nothing. An outgoing webhook made on the same page
// calls a receiver this test runs on loopback (playwright.config.ts trusts 127.0.0.1, as an
// operator would an intranet bot's host) when a message starts with a trigger word; the call is
// signed with the secret shown once, and the receiver's answer appears live as the bot's.
import { createHmac } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect } from './fixtures';
import { createRoom, hydrated, messageLog, openMembers, openRoomMenu, post, register, uniqueName } from './helpers';

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
  // The payload's username is shown, with the bot it came through: never taken for a person.
  await expect(live.locator('.author')).toHaveText('someone-else');
  await expect(live.locator('.author')).toHaveAttribute('href', `?profile=${bot}`);
  await expect(live.locator('.via')).toHaveText(`via @${bot}`);
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

/** A bot's program on loopback: answers each call with the text it was sent, its spaces made
 * `+`; keeps the calls. */
async function botProgram() {
  const calls: { timestamp: string; signature: string; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      calls.push({
        timestamp: String(req.headers['x-confab-timestamp']),
        signature: String(req.headers['x-confab-signature']),
        body,
      });
      // Not the message's words as they are: the answer must not match the message it answers.
      const text = JSON.parse(body).message.text.replaceAll(' ', '+');
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ text: `Shipping, as asked: ${text}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { calls, server, port: (server.address() as AddressInfo).port };
}

test('an outgoing webhook calls its program on a trigger word and its answer appears live', async ({ page }) => {
  const program = await botProgram();
  try {
    await register(page, uniqueName('out'));
    const room = await createRoom(page, uniqueName('ops'));
    await page.goto(`/r/${room}/hooks`);
    await hydrated(page);
    await expect(page.getByText('This room calls no programs.')).toBeVisible();

    // A private address is refused with the reason.
    await page.getByLabel('Name of its bot').fill(uniqueName('nope'));
    await page.getByLabel('URL to call').fill('http://10.1.2.3/bot');
    await page.getByRole('button', { name: 'Create outgoing webhook' }).click();
    await expect(page.getByText(/private or local address/)).toBeVisible();

    const bot = uniqueName('ship');
    await page.getByLabel('Name of its bot').fill(bot);
    await page.getByLabel('URL to call').fill(`http://127.0.0.1:${program.port}/bot`);
    await page.getByLabel('Trigger words').fill('Ship, deploy, /release');
    await page.getByRole('button', { name: 'Create outgoing webhook' }).click();
    const shown = page.getByRole('status').filter({ hasText: 'Copy its secret now' });
    await expect(shown).toBeVisible();
    const secret = await shown.getByLabel('Signing secret').inputValue();
    expect(secret).toMatch(/^whs_[A-Za-z0-9_-]{43}$/);
    const list = page.getByRole('region', { name: 'Programs this room calls' });
    await expect(list.getByRole('listitem')).toHaveCount(1);
    await expect(list).toContainText(`called by ship, deploy, /release or @${bot}`);
    await expect(list).not.toContainText(secret);

    await page.getByRole('link', { name: /^← Back to #/ }).click();
    await hydrated(page);
    await post(page, 'ship the release');
    const answer = messageLog(page).getByRole('article').filter({ hasText: 'Shipping, as asked: ship+the+release' });
    await expect(answer).toBeVisible();
    await expect(answer.locator('.author')).toHaveText(bot);
    await expect(answer.locator('.bot-tag')).toHaveText(/bot/i);

    // The program can tell the call came from this room: the signature checks out.
    expect(program.calls).toHaveLength(1);
    const [call] = program.calls;
    const expected = createHmac('sha256', secret).update(`${call.timestamp}.${call.body}`).digest('hex');
    expect(call.signature).toBe(`sha256=${expected}`);
    expect(JSON.parse(call.body).trigger_word).toBe('ship');

    // Its `/release` is a command of this room: typing `/` lists it with Confab's own, saying
    // which bot it calls; the message it makes calls the program like any trigger word.
    await page.reload();
    await hydrated(page);
    const box = page.getByRole('textbox', { name: 'Message', exact: true });
    await box.pressSequentially('/rel');
    const commands = page.getByRole('listbox', { name: 'Commands' });
    await expect(commands.getByRole('option')).toHaveCount(1);
    await expect(commands.getByRole('option')).toContainText(`/release · calls ${bot}`);
    await box.press('Enter');
    await expect(box).toHaveValue('/release ');
    await box.pressSequentially('v2.1');
    await box.press('Enter');
    await expect(
      messageLog(page).getByRole('article').filter({ hasText: 'Shipping, as asked: /release+v2.1' }),
    ).toBeVisible();
    expect(JSON.parse(program.calls[1].body).trigger_word).toBe('/release');

    await page.goto(`/r/${room}/hooks`);
    await hydrated(page);
    await expect(list).toContainText('delivered');
    await list.getByRole('button', { name: `Revoke outgoing webhook ${bot}` }).click();
    await expect(page.getByText('This room calls no programs.')).toBeVisible();
  } finally {
    program.server.close();
  }
});
