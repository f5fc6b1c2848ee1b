// Profiles as people use them: Alice sets a display name, a time zone, a status and a picture
// on her profile page; Bob opens her card from her name on a message and sees all of it, the
// picture re-encoded to 128 px, and can message her from it. The same without JavaScript.
import { test, expect } from './fixtures';
import type { Locator } from '@playwright/test';
import {
  aliceAndBob,
  createRoom,
  hydrated,
  messageLog,
  openAccountMenu,
  png,
  post,
  register,
  uniqueName,
} from './helpers';

/** The natural width of a loaded picture: 0 until it has loaded. */
function loadedWidth(img: Locator): Promise<number> {
  return img.evaluate((el: HTMLImageElement) => (el.complete ? el.naturalWidth : 0));
}

test('a profile set on its page opens as a card from the name on a message', async ({ browser }) => {
  const { alice, bob, a, b, aliceName } = await aliceAndBob(browser);
  await (await openAccountMenu(a)).getByRole('link', { name: 'Your profile' }).click();
  await expect(a.getByRole('heading', { name: 'Your profile' })).toBeVisible();
  await hydrated(a);
  await a.getByLabel('Display name').fill('Alice Example');
  await a.getByLabel('Time zone').selectOption('Asia/Seoul');
  await a.getByRole('button', { name: 'Save profile' }).click();
  await expect(a.getByText('Saved.')).toBeVisible();
  await a.getByLabel('Emoji').fill('🌴');
  await a.getByLabel('What are you up to?').fill('On holiday');
  await a.getByRole('button', { name: 'Set status' }).click();
  await expect(a.locator('.profile-summary')).toContainText('On holiday');
  await expect(a.locator('.profile-summary')).toContainText('Alice Example');
  await a.getByLabel('Choose a picture').setInputFiles({
    name: 'me.png',
    mimeType: 'image/png',
    buffer: png(300, 200),
  });
  await a.getByRole('button', { name: 'Upload picture' }).click();
  await expect(a.getByRole('button', { name: 'Remove picture' })).toBeVisible();
  const mine = a.locator('.profile-summary img.avatar-img');
  await expect(mine).toHaveAttribute('src', /\?v=/);
  await expect.poll(() => loadedWidth(mine)).toBe(128);

  // Bob opens her card from her name on a message in a room they share.
  await a.goto('/');
  await hydrated(a);
  const id = await createRoom(a, uniqueName('profiles'));
  await post(a, 'hello from alice');
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  // Her message shows the name she chose; her username stays the handle behind it.
  const byline = messageLog(b).getByRole('link', { name: 'Alice Example' });
  await expect(byline).toHaveAttribute('title', `Open the profile of @${aliceName}`);
  // A message arriving live carries it too.
  await post(b, 'hi alice');
  await post(a, 'and a second one');
  const live = messageLog(b).getByRole('article').filter({ hasText: 'and a second one' });
  await expect(live.getByRole('link', { name: 'Alice Example' })).toBeVisible();
  await byline.first().click();
  await expect(b).toHaveURL(new RegExp(`/r/${id}\\?profile=${aliceName}$`));
  const card = b.getByRole('complementary', { name: `Profile of ${aliceName}` });
  await expect(card.getByRole('heading', { name: 'Alice Example' })).toBeVisible();
  await expect(card).toContainText(`@${aliceName}`);
  await expect(card).toContainText('🌴 On holiday');
  await expect(card).toContainText('local time · Asia/Seoul (UTC+09:00)');
  await expect.poll(() => loadedWidth(card.locator('img.avatar-img'))).toBe(128);
  // Escape closes it; the name opens it again; from it, a direct message.
  await b.keyboard.press('Escape');
  await expect(card).toHaveCount(0);
  await expect(b).toHaveURL(new RegExp(`/r/${id}$`));
  await expect(messageLog(b)).toContainText('hello from alice');
  await messageLog(b).getByRole('link', { name: 'Alice Example' }).first().click();
  await card.getByRole('button', { name: 'Send a direct message' }).click();
  await expect(b.getByRole('heading', { level: 1, name: aliceName })).toBeVisible();
  await alice.close();
  await bob.close();
});

test('a profile is edited and shown without JavaScript', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const name = uniqueName('nojsprofile');
  await register(page, name, { js: false });
  await page.goto('/profile');
  await page.getByLabel('Display name').fill('No Script');
  await page.getByLabel('Time zone').selectOption('America/New_York');
  await page.getByRole('button', { name: 'Save profile' }).click();
  await expect(page.getByLabel('Display name')).toHaveValue('No Script');

  // A picture that is not one is refused with the reason, on the same page.
  await page.getByLabel('Choose a picture').setInputFiles({
    name: 'notes.png',
    mimeType: 'image/png',
    buffer: Buffer.from('<svg onload="alert(1)"></svg>'),
  });
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await expect(page.getByRole('alert')).toContainText('must be a PNG, JPEG, GIF or WebP');
  await page.getByLabel('Choose a picture').setInputFiles({
    name: 'me.png',
    mimeType: 'image/png',
    buffer: png(80, 120),
  });
  await page.getByRole('button', { name: 'Upload picture' }).click();
  await expect(page.getByRole('button', { name: 'Remove picture' })).toBeVisible();
  await expect.poll(() => loadedWidth(page.locator('.profile-summary img.avatar-img'))).toBe(128);

  await page.getByLabel('What are you up to?').fill('Reading');
  await page.getByLabel('Clear after').selectOption('60');
  await page.getByRole('button', { name: 'Set status' }).click();
  await expect(page.locator('.profile-summary')).toContainText('Reading');

  await page.goto(`/r/1?profile=${name}`);
  const card = page.getByRole('complementary', { name: `Profile of ${name}` });
  await expect(card.getByRole('heading', { name: 'No Script' })).toBeVisible();
  await expect(card).toContainText('Reading');
  await expect(card).toContainText('America/New York');
  await expect(card.getByRole('link', { name: 'Edit your profile' })).toBeVisible();
  await context.close();
});
