// Room settings as people use them: the owner sets a topic, makes the room read-only and bans
// someone from the room's settings panel; the other member sees each change live, as a line in
// the timeline and in the room itself. Also without JavaScript.
import { test, expect } from './fixtures';
import {
  aliceAndBob,
  createRoom,
  hydrated,
  messageLog,
  openMembers,
  openMenu,
  openRoomMenu,
  post,
  register,
  sidebarLink,
  uniqueName,
} from './helpers';

test('the owner sets a topic, makes the room read-only and bans: live on the member\'s screen', async ({ browser }) => {
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser);
  const room = uniqueName('launch');
  const id = await createRoom(a, room);
  await hydrated(a);
  await post(a, 'welcome aboard');
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b).getByText('welcome aboard')).toBeVisible();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');

  // The topic, from the room's menu: Bob's header and timeline show it without a reload.
  await (await openRoomMenu(a)).getByRole('link', { name: 'Room settings' }).click();
  const settings = a.getByRole('complementary', { name: 'Room settings' });
  await expect(settings).toBeVisible();
  await settings.getByRole('textbox', { name: /^Topic/ }).fill('Ship it on Friday');
  await settings.getByRole('button', { name: 'Save topic' }).click();
  await expect(b.locator('.room-header .topic')).toHaveText('Ship it on Friday');
  await expect(messageLog(b).locator('.room-event')).toContainText(
    `${aliceName} set the topic to “Ship it on Friday”`,
  );

  // Read-only: Bob's composer gives way to a note saying why; Alice still posts.
  await a.goto(`/r/${id}?settings`);
  await hydrated(a);
  await settings.getByRole('button', { name: 'Make read-only' }).click();
  await expect(settings.getByRole('button', { name: 'Let everyone post' })).toBeVisible();
  await expect(b.getByRole('status').filter({ hasText: 'read-only' })).toBeVisible();
  await expect(b.getByRole('textbox', { name: 'Message', exact: true })).toHaveCount(0);
  await expect(b.locator('.room-header').getByText('Read-only')).toBeAttached();
  await a.goto(`/r/${id}`);
  await hydrated(a);
  await post(a, 'v2 is out');
  await expect(messageLog(b).getByText('v2 is out')).toBeVisible();

  // A ban from the members panel: Bob is out at once, and cannot come back until it is lifted.
  const panel = await openMembers(a);
  await expect(panel.locator('li.member').filter({ hasText: bobName })).toHaveAttribute('data-presence', 'online');
  const bobsMenu = await openMenu(panel, `Actions for ${bobName}`);
  await bobsMenu.getByRole('button', { name: 'Ban from room' }).click();
  await expect(panel.getByRole('heading', { name: '1 member' })).toBeVisible();
  await expect(b.getByText(`You were removed from this room by ${aliceName}.`)).toBeVisible();
  await expect(sidebarLink(b, room)).toHaveCount(0);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(b.getByRole('alert')).toContainText('banned');
  await expect(messageLog(a).locator('.room-event').last()).toContainText(`${aliceName} banned ${bobName}`);

  await a.goto(`/r/${id}?settings`);
  await hydrated(a);
  await settings.getByRole('button', { name: `Lift the ban on ${bobName}` }).click();
  await expect(settings.getByText('No one is banned.')).toBeVisible();
  await b.reload();
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b).getByText('v2 is out')).toBeVisible();
  await alice.close();
  await bob.close();
});

test('a half-written message survives the room being redrawn by a setting, and a trip to another room', async ({ browser }) => {
  const { alice, bob, a, b } = await aliceAndBob(browser);
  const id = await createRoom(a, uniqueName('drafts'));
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  const box = b.getByRole('textbox', { name: 'Message', exact: true });
  await box.pressSequentially('half a thought');
  // Bob's box has the focus when Alice's change draws his room again.
  const topic = await a.request.post('/api/configure_room', {
    form: { room_id: String(id), field: 'topic', value: 'Redrawn' },
  });
  expect(topic.status()).toBe(200);
  await expect(b.locator('.room-header')).toContainText('Redrawn');
  await expect(box).toHaveValue('half a thought');
  // Another room and back: the draft waits there; sent, it is gone.
  await sidebarLink(b, 'general').click();
  await expect(b.getByRole('heading', { name: 'general', level: 1 })).toBeVisible();
  await expect(box).toHaveValue('');
  await b.goBack();
  await expect(box).toHaveValue('half a thought');
  await box.press('Enter');
  await expect(messageLog(b).locator('article:not([data-pending])').filter({ hasText: 'half a thought' })).toBeVisible();
  await expect(box).toHaveValue('');
  await alice.close();
  await bob.close();
});

test('room settings work without JavaScript', async ({ browser }) => {
  const owner = await browser.newContext({ javaScriptEnabled: false });
  const guest = await browser.newContext({ javaScriptEnabled: false });
  const o = await owner.newPage();
  const g = await guest.newPage();
  await register(o, uniqueName('nojsowner'), { js: false });
  await register(g, uniqueName('nojsguest'), { js: false });
  const room = uniqueName('nojsnews');
  const id = await createRoom(o, room);
  await g.goto(`/r/${id}`);
  await g.getByRole('button', { name: 'Join room' }).click();
  await expect(g.getByRole('textbox', { name: 'Message', exact: true })).toBeVisible();

  await o.goto(`/r/${id}?settings`);
  const settings = o.getByRole('complementary', { name: 'Room settings' });
  await settings.getByRole('textbox', { name: 'Name', exact: true }).fill(`${room}-news`);
  await settings.getByRole('button', { name: 'Save name' }).click();
  await o.goto(`/r/${id}?settings`);
  await expect(o.getByRole('heading', { level: 1, name: `${room}-news` })).toBeVisible();
  await settings.getByRole('button', { name: 'Make read-only' }).click();
  await o.goto(`/r/${id}?settings`);
  await expect(settings.getByRole('button', { name: 'Let everyone post' })).toBeVisible();

  await g.goto(`/r/${id}`);
  await expect(g.getByRole('heading', { level: 1, name: `${room}-news` })).toBeVisible();
  await expect(g.getByText(/only its moderators and owners post/)).toBeVisible();
  await expect(g.getByRole('textbox', { name: 'Message', exact: true })).toHaveCount(0);
  await expect(messageLog(g).locator('.room-event')).toHaveCount(2);
  await owner.close();
  await guest.close();
});
