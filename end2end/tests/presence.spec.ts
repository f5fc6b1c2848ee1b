// Presence and unread state: who is online, unread badges kept live and shared by a user's
// devices, and the summary waiting for someone who was away.
import { BrowserContext, Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { aliceAndBob, hydrated, leaveGeneral, logIn, messageLog, openDm, openMembers, post, sidebarLink, accountButton } from './helpers';

test('a member shows online while connected, and offline with "last seen" once their browser closes', async ({ browser }) => {
  const { alice, bob, a, aliceName, bobName } = await aliceAndBob(browser);
  await openDm(a, bobName);
  await hydrated(a);
  const members = await openMembers(a);
  const bobItem = members.getByRole('listitem').filter({ hasText: bobName });
  await expect(bobItem).toHaveAttribute('data-presence', 'online');
  await expect(members.getByRole('listitem').filter({ hasText: aliceName })).toHaveAttribute('data-presence', 'online');
  await expect(bobItem).not.toContainText('last seen');

  await bob.close();
  await expect(bobItem).toHaveAttribute('data-presence', 'offline', { timeout: 5_000 });
  await expect(bobItem).toContainText('last seen');
  // A reload asks the server, which agrees (the panel stays open: it is in the address).
  await a.reload();
  await hydrated(a);
  await expect(bobItem).toHaveAttribute('data-presence', 'offline');
  await expect(bobItem).toContainText('last seen');
  await alice.close();
});

test('unread badges are live, reading on one device clears the other, and a returning user gets a summary', async ({ browser }) => {
  const { alice, bob: bobPhone, a, b: phone, aliceName, bobName } = await aliceAndBob(browser);
  const bobLaptop = await browser.newContext();
  const laptop = await bobLaptop.newPage();
  await leaveGeneral(phone);
  await laptop.goto('/');
  await hydrated(laptop);
  await logIn(laptop, bobName);
  await expect(accountButton(laptop)).toBeVisible();
  await phone.reload();
  await hydrated(phone);

  await openDm(a, bobName);
  await post(a, 'one');
  await post(a, 'two');
  // The new DM appears on both of bob's devices with its count, without a reload.
  for (const page of [phone, laptop]) {
    await expect(sidebarLink(page, aliceName)).toHaveAccessibleName(`${aliceName} 2 unread messages`);
  }
  // Reading it on the phone clears the laptop's badge.
  await sidebarLink(phone, aliceName).click();
  await expect(messageLog(phone).getByRole('article').filter({ hasText: 'two' })).toBeVisible();
  await expect(sidebarLink(phone, aliceName)).toHaveAccessibleName(aliceName);
  await expect(sidebarLink(laptop, aliceName)).toHaveAccessibleName(aliceName);
  // A message while the phone has the DM open: read there, so unread nowhere.
  await post(a, 'three');
  await expect(messageLog(phone).getByRole('article').filter({ hasText: 'three' })).toBeVisible();
  await expect(sidebarLink(laptop, aliceName)).toHaveAccessibleName(aliceName);

  // Bob goes away entirely; alice writes twice; bob comes back on a new device.
  await bobPhone.close();
  await bobLaptop.close();
  await post(a, 'four');
  await post(a, 'five');
  const bobTablet = await browser.newContext();
  const tablet = await bobTablet.newPage();
  await tablet.goto('/');
  await hydrated(tablet);
  await logIn(tablet, bobName);
  await expect(tablet.getByRole('status').filter({ hasText: 'While you were away' })).toHaveText(
    /While you were away: 2 new messages in 1 conversation\./,
  );
  await expect(sidebarLink(tablet, aliceName)).toHaveAccessibleName(`${aliceName} 2 unread messages`);
  await tablet.getByRole('button', { name: 'Dismiss' }).click();
  await expect(tablet.getByText('While you were away')).toHaveCount(0);
  await alice.close();
  await bobTablet.close();
});

test('a new DM raises a browser notification while the tab is hidden', async ({ browser }) => {
  // Pretend the tab is in the background; the notification is a real one, shown through the
  // service worker (as a push's would be, with the same tag).
  const prepareBob = async (bob: BrowserContext) => {
    await bob.grantPermissions(['notifications']);
    await bob.addInitScript(() => {
      Object.defineProperty(document, 'hidden', { get: () => (window as unknown as { pretendHidden?: boolean }).pretendHidden === true });
    });
  };
  const shown = (page: Page) =>
    page.evaluate(async () => {
      const registration = await navigator.serviceWorker.ready;
      return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag }));
    });
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser, { prepareBob });
  await expect(b.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await b.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    }
  });
  const dm = await openDm(a, bobName);
  // Bob's socket is open once the server counts him online: a message before that would
  // reach him by catch-up, which raises no notification.
  await expect(
    (await openMembers(a)).getByRole('listitem').filter({ hasText: bobName }),
  ).toHaveAttribute('data-presence', 'online');
  await b.evaluate(() => { (window as unknown as { pretendHidden: boolean }).pretendHidden = true; });
  await post(a, 'are you there?');
  await expect.poll(() => shown(b), { timeout: 15_000 }).toEqual([
    { title: aliceName, body: 'are you there?', tag: `confab-room-${dm}` },
  ]);
  // Visible again: no notification for the next one.
  await b.evaluate(() => { (window as unknown as { pretendHidden: boolean }).pretendHidden = false; });
  await post(a, 'never mind');
  await expect(sidebarLink(b, aliceName)).toHaveAccessibleName(`${aliceName} 2 unread messages`);
  expect(await shown(b)).toEqual([{ title: aliceName, body: 'are you there?', tag: `confab-room-${dm}` }]);
  await alice.close();
  await bob.close();
});
