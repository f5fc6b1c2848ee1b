// Markdown and mentions in a real browser: the server's HTML is what the page shows, the same
// before and after hydration; a mention is offered as you type, highlighted, and counted apart
// in the other person's sidebar, live; and a corpus of hostile Markdown renders nothing but
// the allowed markup, runs nothing and (checked by the fixture) breaks no policy.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, messageLog, post, sidebarLink, uniqueName } from './helpers';

const CORPUS: string[] = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../app/tests/fixtures/hostile_markdown.json'), 'utf8'),
);

/** A room made by the first page's user and joined by the second's; returns its id. */
async function sharedRoom(a: Page, b: Page): Promise<number> {
  const create = await a.request.post('/api/create_room', { form: { name: uniqueName('md') } });
  expect(create.status()).toBe(200);
  const room = Number(await create.text());
  expect((await b.request.post('/api/join_room', { form: { room_id: String(room) } })).status()).toBe(200);
  return room;
}

async function openRoom(page: Page, room: number): Promise<void> {
  await page.goto(`/r/${room}`);
  await hydrated(page);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
}

test('markdown shows as the server rendered it, before and after hydration', async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const room = await sharedRoom(a, b);
  const text = '**bold** _it_ ~~gone~~ `x < y`\n\n- one\n- two\n\n> quoted\n\n[site](https://example.com)';
  const res = await a.request.post('/api/post_message', { form: { room_id: String(room), text } });
  expect(res.status()).toBe(200);
  const html: string = (await res.json()).html;

  const ssr = await (await b.request.get(`/r/${room}`)).text();
  expect(ssr).toContain(html);
  await b.goto(`/r/${room}`);
  await hydrated(b);
  const body = messageLog(b).locator('.body.markdown');
  expect(await body.innerHTML()).toBe(html);
  await expect(body.locator('strong')).toHaveText('bold');
  await expect(body.locator('em')).toHaveText('it');
  await expect(body.locator('del')).toHaveText('gone');
  await expect(body.locator('code')).toHaveText('x < y');
  await expect(body.locator('li')).toHaveText(['one', 'two']);
  await expect(body.locator('blockquote')).toHaveText('quoted');
  const link = body.getByRole('link', { name: 'site' });
  await expect(link).toHaveAttribute('href', 'https://example.com');
  await expect(link).toHaveAttribute('rel', 'noopener noreferrer nofollow');
  await alice.close();
  await bob.close();
});

test('a mention is offered while typing, highlighted, and counted apart in the sidebar live', async ({ browser }) => {
  const { alice, bob, a, b, bobName } = await aliceAndBob(browser);
  const room = await sharedRoom(a, b);
  const roomName = (await (await a.request.post('/api/room', { form: { room_id: String(room) } })).json()).room.name;
  await openRoom(a, room);
  await b.goto('/');
  await hydrated(b);

  const box = a.getByRole('textbox', { name: 'Message', exact: true });
  await box.pressSequentially(`look @${bobName.slice(0, 4)}`);
  const offered = a.getByRole('listbox', { name: 'People to mention' });
  await expect(offered.getByRole('option')).toHaveText([`@${bobName}`]);
  await box.press('Enter');
  await expect(offered).toBeHidden();
  await expect(box).toHaveValue(`look @${bobName} `);
  await box.press('Enter');
  const mine = messageLog(a).locator('article:not([data-pending])').filter({ hasText: 'look' });
  await expect(mine.locator('.mention')).toHaveText(`@${bobName}`);
  await post(a, 'and a message without one');

  // Bob, elsewhere, sees two unread and one mention, without a reload.
  const link = sidebarLink(b, roomName);
  await expect(link.getByLabel('2 unread messages')).toBeVisible();
  await expect(link.getByLabel('1 mention')).toBeVisible();
  // Opening the room reads it: both counts go, and the message is marked as mentioning him.
  await link.click();
  await expect(messageLog(b).locator('article.mentions-me')).toHaveCount(1);
  await expect(messageLog(b).locator('article.mentions-me .mention')).toHaveText(`@${bobName}`);
  await expect(link.getByLabel('1 mention')).toHaveCount(0);
  await expect(link.getByLabel(/unread/)).toHaveCount(0);
  await alice.close();
  await bob.close();
});

test('@here is offered to the owner and reaches a member online; turned off, it is offered no more', async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const room = await sharedRoom(a, b);
  const roomName = (await (await a.request.post('/api/room', { form: { room_id: String(room) } })).json()).room.name;
  await openRoom(a, room);
  // Bob has Confab open (on his home page): he is online.
  await b.goto('/');
  await hydrated(b);

  const box = a.getByRole('textbox', { name: 'Message', exact: true });
  const offered = a.getByRole('listbox', { name: 'People to mention' });
  await box.pressSequentially('@he');
  await expect(offered.getByRole('option')).toHaveText(['@here · notify those online']);
  await box.press('Enter');
  await expect(box).toHaveValue('@here ');
  await box.pressSequentially('standup in 5');
  await box.press('Enter');
  const sent = messageLog(a).locator('article:not([data-pending])').filter({ hasText: 'standup in 5' });
  await expect(sent.locator('.mention')).toHaveText('@here');
  await expect(sidebarLink(b, roomName).getByLabel('1 mention')).toBeVisible();

  // The owner turns group mentions off in the room's settings: the timeline says so, and the
  // composer no longer offers them.
  await a.goto(`/r/${room}?settings`);
  await hydrated(a);
  const settings = a.getByRole('complementary', { name: 'Room settings' });
  await settings.getByLabel('Who can notify everyone with @room and @here').selectOption('nobody');
  await settings.getByRole('button', { name: 'Save who can notify everyone' }).click();
  await expect(messageLog(a).getByText('turned off @room and @here')).toBeVisible();
  await a.goto(`/r/${room}`);
  await hydrated(a);
  await box.pressSequentially('@r');
  await expect(offered).toBeHidden();
  await alice.close();
  await bob.close();
});

test(`${CORPUS.length} hostile markdown payloads render only allowed markup and run nothing`, async ({ browser }) => {
  test.setTimeout(120_000);
  const { alice, bob, a, b } = await aliceAndBob(browser);
  let dialogs = 0;
  for (const ctx of [alice, bob]) ctx.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  const room = await sharedRoom(a, b);
  await openRoom(b, room);
  for (const [k, text] of CORPUS.entries()) {
    const res = await a.request.post('/api/post_message', {
      form: { room_id: String(room), text, client_id: `md-${k}` },
    });
    expect(res.status(), text).toBe(200);
  }
  const confirmed = (page: Page) => messageLog(page).locator('article:not([data-pending])');
  await expect(confirmed(b)).toHaveCount(CORPUS.length, { timeout: 20_000 });

  /** What in the message bodies is not the allowlist's markup. */
  const foreign = (page: Page) => page.evaluate(() => {
    const allowed = new Set(['P', 'BR', 'EM', 'STRONG', 'DEL', 'CODE', 'PRE', 'A', 'UL', 'OL', 'LI', 'BLOCKQUOTE', 'HR', 'SPAN']);
    const found: string[] = [];
    for (const body of Array.from(document.querySelectorAll('[role="log"] .body'))) {
      for (const el of Array.from(body.querySelectorAll('*'))) {
        if (!allowed.has(el.tagName)) found.push(`<${el.tagName.toLowerCase()}>`);
        for (const attr of Array.from(el.attributes)) {
          const ok = (el.tagName === 'A' && ['href', 'rel', 'title'].includes(attr.name))
            || (el.tagName === 'OL' && attr.name === 'start')
            || (el.tagName === 'SPAN' && attr.name === 'class' && attr.value === 'mention');
          if (!ok) found.push(`${el.tagName.toLowerCase()}[${attr.name}=${attr.value}]`);
          if (attr.name === 'href' && !/^(https?:|mailto:)/i.test(attr.value)) found.push(`href=${attr.value}`);
        }
      }
    }
    return found;
  });
  const pwned = (page: Page) => page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned);
  expect(await foreign(b)).toEqual([]);
  // Server-rendered and hydrated, the newest 50.
  await openRoom(a, room);
  expect(await foreign(a)).toEqual([]);
  for (const page of [a, b]) expect(await pwned(page)).toBeUndefined();
  // Nothing was fetched from a host a sender chose.
  expect(await a.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => e.name).filter((u) => !u.startsWith(location.origin)))).toEqual([]);
  expect(dialogs).toBe(0);
  await alice.close();
  await bob.close();
});
