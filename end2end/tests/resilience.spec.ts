// Nothing is lost when the network or the server fails: the outbox keeps what was written while
// the connection was cut (even across a closed tab), a server killed with SIGKILL comes back
// to browsers that reconnect and catch up on their own, and a change stored but never sent live
// is fetched as soon as a later one shows the hole, without a reconnect.
import { execFileSync } from 'node:child_process';
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, messageLog, openDm, openGeneral, post, register, uniqueName } from './helpers';
import { CuttableProxy, OwnServer } from './servers';

/** Writes `text` in the composer and presses Enter, as a person would. */
async function write(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** The texts of the confirmed messages in the open room, oldest first. */
async function bodies(page: Page): Promise<string[]> {
  return messageLog(page).locator('article:not([data-pending]) .body').allTextContents();
}

function pending(page: Page) {
  return messageLog(page).locator('article[data-pending]');
}

test('messages written while the connection is cut wait in the outbox, survive a closed tab, and arrive once, in order', async ({ browser, baseURL }) => {
  const proxy = await CuttableProxy.start(Number(new URL(baseURL ?? '').port));
  // Alice reaches the server only through the proxy; bob directly.
  const { alice, bob, a, b, bobName } = await aliceAndBob(browser, { alice: { baseURL: proxy.url } });
  const dm = await openDm(a, bobName);
  await hydrated(a);
  await post(a, 'hello before the cut');
  await b.goto(`/r/${dm}`);
  await hydrated(b);
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');

  await proxy.cut();
  await expect(a.getByText('Connection lost. Reconnecting…')).toBeVisible();
  await write(a, 'first while cut');
  await write(a, 'second while cut');
  await expect(pending(a)).toHaveCount(2);
  await expect(pending(a).first()).toContainText('Not sent yet');
  await expect(pending(a).nth(1)).toContainText('second while cut');
  // Bob has not seen them, and the tab closes with them still unsent.
  await expect(messageLog(b).getByRole('article').filter({ hasText: 'while cut' })).toHaveCount(0);
  await a.close();

  await proxy.restore();
  const again = await alice.newPage();
  await again.goto(`/r/${dm}`);
  await hydrated(again);
  await expect(pending(again)).toHaveCount(0, { timeout: 15_000 });
  await expect.poll(() => bodies(b), { timeout: 15_000 }).toEqual([
    'hello before the cut', 'first while cut', 'second while cut',
  ]);
  expect(await bodies(again)).toEqual(['hello before the cut', 'first while cut', 'second while cut']);
  // Exactly once on the server too: a reload shows the stored history.
  await b.reload();
  await hydrated(b);
  expect(await bodies(b)).toEqual(['hello before the cut', 'first while cut', 'second while cut']);
  await alice.close();
  await bob.close();
  await proxy.stop();
});

test('a server killed with SIGKILL mid-conversation: browsers reconnect and catch up with nothing lost', async ({ browser }) => {
  const server = await OwnServer.start();
  try {
    const own = { baseURL: server.url };
    const { alice, bob, a, b, bobName } = await aliceAndBob(browser, { alice: own, bob: own });
    const dm = await openDm(a, bobName);
    await hydrated(a);
    await b.goto(`/r/${dm}`);
    await hydrated(b);
    await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
    await post(a, 'one');
    await post(b, 'two');
    await expect.poll(() => bodies(a)).toEqual(['one', 'two']);

    await server.kill();
    for (const page of [a, b]) {
      await expect(page.getByText('Connection lost. Reconnecting…')).toBeVisible();
    }
    await write(a, 'three, written while the server was down');
    await expect(pending(a)).toHaveCount(1);

    await server.restart();
    const expected = ['one', 'two', 'three, written while the server was down'];
    for (const page of [a, b]) {
      await expect(page.getByText('Connection lost. Reconnecting…')).toHaveCount(0, { timeout: 20_000 });
      await expect.poll(() => bodies(page), { timeout: 20_000 }).toEqual(expected);
    }
    await post(b, 'four, after the restart');
    await expect.poll(() => bodies(a)).toEqual([...expected, 'four, after the restart']);
    await expect(pending(a)).toHaveCount(0);
    await alice.close();
    await bob.close();
  } finally {
    await server.kill();
  }
});

test('a message stored but never sent live shows within seconds of the next one, on the same socket', async ({ browser }) => {
  const server = await OwnServer.start();
  const context = await browser.newContext({ baseURL: server.url });
  try {
    const page = await context.newPage();
    let sockets = 0;
    page.on('websocket', () => {
      sockets += 1;
    });
    const name = uniqueName('solo');
    await register(page, name);
    await openGeneral(page);
    await post(page, 'before the hole');
    const opened = sockets;

    // What a node leaves behind when it stops between its commit and its publish: a message
    // in the database, with the room's next seq and rev, that no socket was sent.
    execFileSync('sqlite3', ['-cmd', '.timeout 5000', server.db], {
      input: `BEGIN IMMEDIATE;
UPDATE rooms SET last_seq = last_seq + 1, last_rev = last_rev + 1,
  last_message_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE name = 'general';
INSERT INTO messages (uid, room_id, seq, author_id, body, created_at, rev, html)
  SELECT 'lost-' || lower(hex(randomblob(8))), r.id, r.last_seq, u.id, 'lost on its way',
         r.last_message_at, r.last_rev, '<p>lost on its way</p>'
  FROM rooms r, users u WHERE r.name = 'general' AND u.username = '${name}';
COMMIT;
`,
    });
    await expect(messageLog(page).getByText('lost on its way')).toHaveCount(0);

    // The next message's rev is two past the page's: the missing one is fetched, in its place.
    await post(page, 'after the hole');
    await expect(messageLog(page).getByText('lost on its way')).toBeVisible({ timeout: 8_000 });
    const shown = await bodies(page);
    expect(shown.slice(-3)).toEqual(['before the hole', 'lost on its way', 'after the hole']);
    expect(sockets, 'no reconnect was needed').toBe(opened);
    await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
  } finally {
    await context.close();
    await server.kill();
  }
});

