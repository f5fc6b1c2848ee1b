// Private rooms and roles, as people use them: a private room is created from the directory,
// outsiders cannot find it, a member adds someone who sees it appear live, and the owner makes
// them a moderator, whose screen then offers what a moderator may do. Also without JavaScript.
import { test, expect } from './fixtures';
import {
  aliceAndBob,
  hydrated,
  messageAction,
  messageLog,
  openMembers,
  openMenu,
  post,
  register,
  roomId,
  sidebarLink,
  uniqueName,
} from './helpers';

test('a private room: hidden from outsiders, a member adds someone live, the owner makes them a moderator', async ({ browser }) => {
  const { alice, bob, a, b, bobName } = await aliceAndBob(browser);
  const room = uniqueName('hideout');
  await a.getByRole('link', { name: 'Browse rooms' }).click();
  await a.getByRole('textbox', { name: 'Room name' }).fill(room);
  await a.getByRole('checkbox', { name: /^Private/ }).check();
  await a.getByRole('button', { name: 'Create room' }).click();
  await expect(a.getByRole('heading', { level: 1, name: room })).toBeVisible();
  await expect(a.locator('.room-header').getByText('Private', { exact: true })).toBeVisible();
  await expect(sidebarLink(a, room)).toHaveAccessibleName(new RegExp(`${room}.*private`));
  const id = roomId(a);
  await hydrated(a);
  await post(a, 'plans for friday');

  // Bob, outside it, finds nothing: not in the directory, and its address answers as a room
  // that does not exist would.
  await b.getByRole('link', { name: 'Browse rooms' }).click();
  await expect(b.getByRole('heading', { level: 1, name: 'Rooms' })).toBeVisible();
  await expect(b.getByRole('link', { name: room })).toHaveCount(0);
  await b.goto(`/r/${id + 100000}`);
  const nothing = (await b.getByRole('alert').textContent()) ?? '';
  expect(nothing).toContain('does not exist');
  await b.goto(`/r/${id}`);
  await expect(b.getByRole('alert')).toHaveText(nothing);
  await expect(b.getByText('plans for friday')).toHaveCount(0);
  await b.goto('/');
  await hydrated(b);

  // Alice adds him from the members panel: the room appears in his sidebar without a reload.
  const panel = await openMembers(a);
  await panel.getByRole('textbox', { name: 'Add someone to this room' }).fill(bobName);
  await panel.getByRole('button', { name: 'Add', exact: true }).click();
  await expect(panel.getByRole('heading', { name: '2 members' })).toBeVisible();
  await expect(sidebarLink(b, room)).toBeVisible();
  await sidebarLink(b, room).click();
  await hydrated(b);
  await expect(messageLog(b).getByText('plans for friday')).toBeVisible();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  // As a member he may not delete Alice's message.
  const alices = messageLog(b).getByRole('article').filter({ hasText: 'plans for friday' });
  await openMenu(alices, 'More actions');
  await expect(alices.getByRole('link', { name: 'Delete', exact: true })).toHaveCount(0);

  // Alice makes him a moderator: his open page now offers Delete on her message. (Once he
  // shows online: the list redraws when his presence changes, which would close an open menu.)
  await expect(panel.locator('li.member').filter({ hasText: bobName })).toHaveAttribute('data-presence', 'online');
  const bobsMenu = await openMenu(panel, `Actions for ${bobName}`);
  await bobsMenu.getByRole('button', { name: 'Make moderator' }).click();
  await expect(panel.locator('li.member[data-role="moderator"]')).toContainText(bobName);
  const again = messageLog(b).getByRole('article').filter({ hasText: 'plans for friday' });
  // His page is redrawn when the role frame comes, which closes an open menu: wait for the
  // redrawn message to hold Delete before opening its menu.
  await expect(
    again.getByRole('link', { name: 'Delete', exact: true, includeHidden: true }),
  ).toHaveCount(1);
  await messageAction(again, 'Delete');
  await messageLog(b).getByRole('button', { name: 'Delete message' }).click();
  await expect(messageLog(a).getByText('Message deleted')).toBeVisible();
  await alice.close();
  await bob.close();
});

test('private rooms and roles work without JavaScript', async ({ browser }) => {
  const owner = await browser.newContext({ javaScriptEnabled: false });
  const guest = await browser.newContext({ javaScriptEnabled: false });
  const o = await owner.newPage();
  const g = await guest.newPage();
  const guestName = uniqueName('nojsguest');
  await register(o, uniqueName('nojsowner'), { js: false });
  await register(g, guestName, { js: false });
  const room = uniqueName('nojsprivate');
  await o.getByRole('link', { name: 'Browse rooms' }).click();
  await o.getByRole('textbox', { name: 'Room name' }).fill(room);
  await o.getByRole('checkbox', { name: /^Private/ }).check();
  await o.getByRole('button', { name: 'Create room' }).click();
  await expect(o.getByRole('heading', { level: 1, name: room })).toBeVisible();
  const url = o.url();

  await o.locator('.room-header').getByRole('link', { name: '1 member' }).click();
  const panel = o.getByRole('complementary', { name: 'Members' });
  await panel.getByRole('textbox', { name: 'Add someone to this room' }).fill(guestName);
  await panel.getByRole('button', { name: 'Add', exact: true }).click();
  await o.goto(`${url}?members`);
  await expect(panel.getByRole('heading', { name: '2 members' })).toBeVisible();
  await panel.locator(`summary[aria-label="Actions for ${guestName}"]`).click();
  await panel.getByRole('button', { name: 'Make moderator' }).click();
  await o.goto(`${url}?members`);
  await expect(panel.locator('li.member[data-role="moderator"]')).toContainText(guestName);

  // The guest has it in the sidebar.
  await g.goto('/');
  await g.getByRole('navigation').getByRole('link', { name: new RegExp(room) }).click();
  await expect(g.getByRole('heading', { level: 1, name: room })).toBeVisible();
  await owner.close();
  await guest.close();
});
