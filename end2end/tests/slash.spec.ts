// Slash commands as people type them: `/` lists them in the message box; `/shrug` and `/me`
// post their messages; `/topic` sets the topic (live on the other member's screen); `/invite`
// adds someone; `/mute` mutes (and the room menu says so); `/leave` leaves; a slash followed by
// anything else is an ordinary message.
import { test, expect } from './fixtures';
import { aliceAndBob, createRoom, hydrated, messageLog, openRoomMenu, post, send, uniqueName } from './helpers';

test('slash commands: listed as / is typed, and each does what it says', async ({ browser }) => {
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser);
  const room = uniqueName('slash');
  const id = await createRoom(a, room);
  await hydrated(a);
  const box = a.getByRole('textbox', { name: 'Message', exact: true });

  // Typing `/` lists the commands; `/sh` narrows them; Enter takes one.
  await box.fill('');
  await box.pressSequentially('/');
  const list = a.getByRole('listbox', { name: 'Commands' });
  await expect(list.getByRole('option')).toHaveCount(6);
  await box.pressSequentially('sh');
  await expect(list.getByRole('option')).toHaveCount(1);
  await expect(list.getByRole('option')).toContainText('/shrug');
  await box.press('Enter');
  await expect(box).toHaveValue('/shrug ');
  await box.pressSequentially('it works');
  await box.press('Enter');
  await expect(
    messageLog(a).locator('article:not([data-pending])').filter({ hasText: 'it works ¯\\_(ツ)_/¯' }),
  ).toBeVisible();

  await send(a, '/me waves at everyone');
  const action = messageLog(a).locator('article:not([data-pending]) p.emote');
  await expect(action).toHaveText('waves at everyone');
  await expect(action).toHaveCSS('font-style', 'italic');

  // /invite brings Bob in; his screen shows the room; /topic shows there live.
  await send(a, `/invite @${bobName}`);
  await expect(a.getByRole('status').filter({ hasText: `${bobName} is in the room.` })).toBeVisible();
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  await send(a, '/topic Release week');
  await expect(box).toHaveValue('');
  await expect(b.locator('.room-header .topic')).toHaveText('Release week');
  await expect(messageLog(b)).toContainText(`${aliceName} set the topic to “Release week”`);

  // /mute toggles the room's notifications, and the room menu's Mute/Unmute follows at once.
  await send(a, '/mute');
  await expect(a.getByRole('status').filter({ hasText: 'Muted:' })).toBeVisible();
  let menu = await openRoomMenu(a);
  await expect(menu.getByRole('button', { name: 'Unmute' })).toBeVisible();
  await send(a, '/mute');
  await expect(a.getByRole('status').filter({ hasText: 'Unmuted:' })).toBeVisible();
  menu = await openRoomMenu(a);
  await expect(menu.getByRole('button', { name: 'Mute', exact: true })).toBeVisible();

  // A mistake is explained, and nothing is posted; other slashes are messages.
  await send(a, '/invite');
  await expect(a.getByRole('alert')).toContainText('Use it as /invite @name');
  await expect(box).toHaveValue('/invite');
  await post(a, '/etc/hosts has the old address');

  // /leave does what the room menu's Leave does: the room leaves Bob's sidebar, and the page
  // offers to join again.
  await b.getByRole('textbox', { name: 'Message', exact: true }).fill('/leave');
  await b.getByRole('button', { name: 'Send' }).click();
  await expect(b.getByRole('button', { name: 'Join room' })).toBeVisible();
  await expect(b.getByRole('navigation').getByRole('link', { name: room })).toHaveCount(0);
  await alice.close();
  await bob.close();
});
