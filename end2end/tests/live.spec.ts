// Live delivery over the WebSocket: what one member posts appears for the others without a reload.
import { Browser } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, messageLog, openGeneral, post, uniqueName } from './helpers';

/** Alice and Bob, each in their own browser, both looking at `general` with the socket open. */
async function aliceAndBobInGeneral(browser: Browser) {
  const people = await aliceAndBob(browser);
  await openGeneral(people.a);
  await openGeneral(people.b);
  return people;
}

test('a message appears live in the other member\'s open room and on the sender\'s other device', async ({ browser }) => {
  const { alice, bob, a, b, aliceName } = await aliceAndBobInGeneral(browser);
  // Alice's second device: another tab of the same session.
  const a2 = await alice.newPage();
  await a2.goto('/');
  await hydrated(a2);
  await openGeneral(a2);

  const text = `live ${uniqueName('m')}`;
  const navigations: string[] = [];
  b.on('framenavigated', (f) => navigations.push(f.url()));
  await post(a, text);
  const seen = messageLog(b).getByRole('article').filter({ hasText: text });
  await expect(seen).toBeVisible({ timeout: 5_000 });
  await expect(seen).toContainText(aliceName);
  await expect(messageLog(a2).getByRole('article').filter({ hasText: text })).toBeVisible({ timeout: 5_000 });
  expect(navigations).toEqual([]);
  // Shown once each, even though the sender got both the answer and the live frame.
  await expect(messageLog(a).getByRole('article').filter({ hasText: text })).toHaveCount(1);
  await expect(seen).toHaveCount(1);
  await alice.close();
  await bob.close();
});

test('typing shows for the others only and clears when the message arrives', async ({ browser }) => {
  const { alice, bob, a, b, bobName } = await aliceAndBobInGeneral(browser);

  await b.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('hel');
  await expect(a.getByText(`${bobName} is typing…`)).toBeVisible({ timeout: 2_000 });
  await expect(b.getByText(`${bobName} is typing…`)).toHaveCount(0);
  await b.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('lo there');
  await b.getByRole('button', { name: 'Send' }).click();
  await expect(messageLog(a).getByRole('article').filter({ hasText: 'hello there' })).toBeVisible();
  await expect(a.getByText(`${bobName} is typing…`)).toHaveCount(0);
  await alice.close();
  await bob.close();
});

test('a typing indicator fades by itself when the typist stops', async ({ browser }) => {
  const { alice, bob, a, b, bobName } = await aliceAndBobInGeneral(browser);
  await b.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('hmm');
  const indicator = a.getByText(`${bobName} is typing…`);
  await expect(indicator).toBeVisible({ timeout: 2_000 });
  await expect(indicator).toHaveCount(0, { timeout: 7_000 });
  await alice.close();
  await bob.close();
});
