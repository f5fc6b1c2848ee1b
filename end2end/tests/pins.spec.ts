// Pinned messages as people use them: the room's owner pins a message from its menu, the other
// member sees it marked live and finds it in the room's pins; a member cannot pin. Also
// without JavaScript.
import { test, expect } from './fixtures';
import {
  aliceAndBob,
  createRoom,
  hydrated,
  messageLog,
  openMenu,
  openRoomMenu,
  post,
  register,
  uniqueName,
} from './helpers';

test('the owner pins a message: marked live for the member, listed in the room\'s pins', async ({ browser }) => {
  const { alice, bob, a, b, aliceName } = await aliceAndBob(browser);
  const id = await createRoom(a, uniqueName('pinboard'));
  await hydrated(a);
  await post(a, 'the release checklist');
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  await post(b, 'thanks!');

  // Bob, a member, has no Pin in a message's menu.
  const bobsView = messageLog(b).getByRole('article').filter({ hasText: 'the release checklist' });
  const bobsMenu = await openMenu(bobsView, 'More actions');
  await expect(bobsMenu.getByRole('button', { name: 'Pin to room' })).toHaveCount(0);
  await b.keyboard.press('Escape');

  const alices = messageLog(a).getByRole('article').filter({ hasText: 'the release checklist' });
  await (await openMenu(alices, 'More actions')).getByRole('button', { name: 'Pin to room' }).click();
  await expect(bobsView.getByText(`Pinned by ${aliceName}`)).toBeVisible();

  await (await openRoomMenu(b)).getByRole('link', { name: 'Pinned messages' }).click();
  const pins = b.getByRole('complementary', { name: 'Pinned messages' });
  await expect(pins.getByRole('listitem')).toHaveCount(1);
  await expect(pins.getByRole('listitem')).toContainText('the release checklist');
  await expect(pins.getByRole('button', { name: 'Unpin' })).toHaveCount(0);

  // Alice unpins from her panel: Bob's list empties without a reload.
  await a.goto(`/r/${id}?pins`);
  await hydrated(a);
  await a.getByRole('complementary', { name: 'Pinned messages' }).getByRole('button', { name: 'Unpin' }).click();
  await expect(pins.getByText('Nothing is pinned yet.')).toBeVisible();
  await expect(bobsView.getByText(`Pinned by ${aliceName}`)).toHaveCount(0);
  await alice.close();
  await bob.close();
});

test('pins work without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const name = uniqueName('nojspinner');
  await register(page, name, { js: false });
  const id = await createRoom(page, uniqueName('nojspins'));
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill('pin me');
  await page.getByRole('button', { name: 'Send' }).click();
  const message = messageLog(page).getByRole('article').filter({ hasText: 'pin me' });
  await message.locator('summary[aria-label="More actions"]').click();
  await message.getByRole('button', { name: 'Pin to room' }).click();
  await expect(messageLog(page).getByText(`Pinned by ${name}`)).toBeVisible();
  await page.goto(`/r/${id}?pins`);
  const pins = page.getByRole('complementary', { name: 'Pinned messages' });
  await expect(pins.getByRole('listitem')).toContainText('pin me');
  await pins.getByRole('button', { name: 'Unpin' }).click();
  await page.goto(`/r/${id}?pins`);
  await expect(pins.getByText('Nothing is pinned yet.')).toBeVisible();
  await context.close();
});
