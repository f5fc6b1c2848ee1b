// Changing what was said: edits, deletes and reactions appear live on the other member's screen
// and on the author's other device, reach a screen whose connection was cut while they happened,
// and work as plain forms with JavaScript off.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, messageLog, openDm, post, register, send, uniqueName, messageAction, openMenu } from './helpers';
import { CuttableProxy } from './servers';

/** The article of the confirmed message that says (or said) `text`. */
function article(page: Page, text: string) {
  return messageLog(page).locator('article:not([data-pending])').filter({ hasText: text });
}

/** Opens the edit form of the message saying `text`, replaces its text and saves. */
async function editMessage(page: Page, text: string, replacement: string): Promise<void> {
  await messageAction(article(page, text), 'Edit');
  const box = messageLog(page).getByRole('textbox', { name: 'Edit message' });
  await box.fill(replacement);
  await messageLog(page).getByRole('button', { name: 'Save' }).click();
  await expect(box).toHaveCount(0);
}

/** Deletes the message saying `text`, confirming when asked. */
async function deleteMessage(page: Page, text: string): Promise<void> {
  await messageAction(article(page, text), 'Delete');
  await messageLog(page).getByRole('button', { name: 'Delete message' }).click();
}

test('an edit and a delete show live for the other member and on the author\'s other device', async ({ browser }) => {
  const { alice, bob, a, b, bobName } = await aliceAndBob(browser);
  const dm = await openDm(a, bobName);
  await hydrated(a);
  await post(a, 'teh first message');
  await post(a, 'a message to take back');
  const a2 = await alice.newPage();
  for (const page of [b, a2]) {
    await page.goto(`/r/${dm}`);
    await hydrated(page);
    await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
  }
  // Bob may not change alice's words: her message's menu offers him React, not Edit or Delete.
  const hers = await openMenu(article(b, 'teh first message'), 'More actions');
  await expect(hers.getByRole('link', { name: 'React' })).toBeVisible();
  await expect(hers.getByRole('link', { name: 'Edit' })).toHaveCount(0);
  await expect(hers.getByRole('link', { name: 'Delete' })).toHaveCount(0);

  const navigations: string[] = [];
  b.on('framenavigated', (f) => navigations.push(f.url()));
  await editMessage(a, 'teh first message', 'the first message');
  for (const page of [a, b, a2]) {
    await expect(article(page, 'the first message')).toContainText('(edited', { timeout: 5_000 });
    await expect(article(page, 'teh first')).toHaveCount(0);
  }
  await deleteMessage(a, 'a message to take back');
  for (const page of [a, b, a2]) {
    await expect(messageLog(page).locator('article[data-deleted="true"]')).toHaveText(/Message deleted/, { timeout: 5_000 });
    await expect(messageLog(page).getByText('a message to take back')).toHaveCount(0);
  }
  expect(navigations, 'bob saw it live, without a reload').toEqual([]);
  // It is stored, not only shown: a reload shows the same.
  await b.reload();
  await hydrated(b);
  await expect(article(b, 'the first message')).toContainText('(edited');
  await expect(messageLog(b).locator('article[data-deleted="true"]')).toHaveCount(1);
  await alice.close();
  await bob.close();
});

test('changes made while a screen\'s connection was cut reach it when it reconnects', async ({ browser, baseURL }) => {
  const proxy = await CuttableProxy.start(Number(new URL(baseURL ?? '').port));
  // Bob reaches the server only through the proxy; alice directly.
  const { alice, bob, a, b, bobName } = await aliceAndBob(browser, { bob: { baseURL: proxy.url } });
  const dm = await openDm(a, bobName);
  await hydrated(a);
  await post(a, 'one');
  await post(a, 'two');
  await post(a, 'three');
  await b.goto(`/r/${dm}`);
  await hydrated(b);
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  await expect(article(b, 'three')).toBeVisible();

  await proxy.cut();
  await expect(b.getByText('Connection lost. Reconnecting…')).toBeVisible();
  await editMessage(a, 'one', 'one, edited while bob was away');
  await deleteMessage(a, 'two');
  await post(a, 'four');
  // Bob's screen still shows the old state.
  await expect(article(b, 'one, edited')).toHaveCount(0);
  await expect(article(b, 'two')).toBeVisible();

  await proxy.restore();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open', { timeout: 15_000 });
  await expect(article(b, 'one, edited while bob was away')).toContainText('(edited', { timeout: 10_000 });
  await expect(messageLog(b).locator('article[data-deleted="true"]')).toHaveCount(1);
  await expect(article(b, 'two')).toHaveCount(0);
  await expect(article(b, 'four')).toBeVisible();
  await expect(messageLog(b).locator('article:not([data-pending]) .body')).toHaveText([
    'one, edited while bob was away', 'Message deleted', 'three', 'four',
  ]);
  await alice.close();
  await bob.close();
  await proxy.stop();
});

test('reactions toggle per person, show who reacted, and reach the other member live', async ({ browser }) => {
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser);
  const dm = await openDm(a, bobName);
  await hydrated(a);
  await post(a, 'ship it?');
  await b.goto(`/r/${dm}`);
  await hydrated(b);
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');

  await messageAction(article(b, 'ship it?'), 'React');
  await messageLog(b).getByRole('button', { name: 'React with 👍' }).click();
  const thumbs = (page: Page) => article(page, 'ship it?').getByRole('group', { name: 'Reactions' }).getByRole('button');
  await expect(thumbs(b)).toHaveAccessibleName(`👍 1, reacted by ${bobName}`);
  await expect(thumbs(b)).toHaveAttribute('aria-pressed', 'true');
  await expect(messageLog(b).getByRole('group', { name: 'Add a reaction' })).toHaveCount(0);
  // Alice sees it live, unpressed, and adds hers by pressing it.
  await expect(thumbs(a)).toHaveAccessibleName(`👍 1, reacted by ${bobName}`, { timeout: 5_000 });
  await expect(thumbs(a)).toHaveAttribute('aria-pressed', 'false');
  await thumbs(a).click();
  for (const page of [a, b]) {
    await expect(thumbs(page)).toHaveAccessibleName(`👍 2, reacted by ${bobName} and ${aliceName}`, { timeout: 5_000 });
  }
  // Bob takes his back; any other emoji can be typed.
  await thumbs(b).click();
  await expect(thumbs(a)).toHaveAccessibleName(`👍 1, reacted by ${aliceName}`, { timeout: 5_000 });
  await messageAction(article(b, 'ship it?'), 'React');
  await messageLog(b).getByRole('textbox', { name: 'Other emoji' }).fill('🦀');
  await messageLog(b).getByRole('button', { name: 'Add', exact: true }).click();
  await expect(thumbs(a)).toHaveCount(2, { timeout: 5_000 });
  await expect(thumbs(a).nth(1)).toHaveAccessibleName(`🦀 1, reacted by ${bobName}`);
  // Words are not reactions: refused with a reason, nothing added.
  await messageAction(article(b, 'ship it?'), 'React');
  await messageLog(b).getByRole('textbox', { name: 'Other emoji' }).fill('lol');
  await messageLog(b).getByRole('button', { name: 'Add', exact: true }).click();
  await expect(b.getByRole('alert')).toContainText('A reaction is one emoji');
  await expect(thumbs(b)).toHaveCount(2);
  await b.reload();
  await hydrated(b);
  await expect(thumbs(b).first()).toHaveAccessibleName(`👍 1, reacted by ${aliceName}`);
  await alice.close();
  await bob.close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('edit, react to and delete one\'s own message with plain forms', async ({ page }) => {
    const name = uniqueName('nojsedit');
    await register(page, name, { js: false });
    await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
    const text = `said without js ${uniqueName('m')}`;
    await send(page, text);
    await expect(article(page, text)).toBeVisible();

    await messageAction(article(page, text), 'Edit');
    const box = messageLog(page).getByRole('textbox', { name: 'Edit message' });
    await expect(box).toHaveValue(text);
    await box.fill('');
    await messageLog(page).getByRole('button', { name: 'Save' }).click();
    // The textarea is required: the browser keeps the form open; the text is unchanged.
    await expect(box).toBeVisible();
    await box.fill(`${text}, edited`);
    await messageLog(page).getByRole('button', { name: 'Save' }).click();
    await expect(article(page, `${text}, edited`)).toContainText('(edited');
    await expect(page).toHaveURL(/\/r\/1(#m\d+)?$/);

    await messageAction(article(page, `${text}, edited`), 'React');
    await messageLog(page).getByRole('button', { name: 'React with 🎉' }).click();
    const party = article(page, `${text}, edited`).getByRole('group', { name: 'Reactions' }).getByRole('button');
    await expect(party).toHaveAccessibleName(`🎉 1, reacted by ${name}`);
    await party.click();
    await expect(party).toHaveCount(0);

    await messageAction(article(page, `${text}, edited`), 'Delete');
    await expect(messageLog(page).getByText('Delete this message for everyone?')).toBeVisible();
    await messageLog(page).getByRole('button', { name: 'Delete message' }).click();
    await expect(messageLog(page).getByText(`${text}, edited`)).toHaveCount(0);
    await expect(page).toHaveURL(/\/r\/1(#m\d+)?$/);
  });
});
