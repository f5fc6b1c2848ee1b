// Nothing is lost when the network or the server fails: the outbox keeps what was written while
// the connection was cut (even across a closed tab), and a server killed with SIGKILL comes back
// to browsers that reconnect and catch up on their own.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, messageLog, openDm, post } from './helpers';
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
