// The keyboard: a whole session without the mouse (register, join, post, react, reply in a
// thread, log out), the quick switcher (Ctrl+K), the shortcuts dialog (?), ↑ to edit the last
// message, Escape closing what is open, and Enter that ends an input method's composition
// (Chinese, Korean) sending nothing.
import { Locator, Page } from '@playwright/test';
import { test, expect } from './fixtures';
import {
  createRoom, hydrated, messageAction, messageLog, register, uniqueName,
} from './helpers';

/** Presses Tab until `target` has the focus, as a keyboard user would; fails after `most`. */
async function tabTo(page: Page, target: Locator, most = 80): Promise<void> {
  for (let i = 0; i < most; i++) {
    if (await target.evaluate((el) => el === document.activeElement).catch(() => false)) return;
    await page.keyboard.press('Tab');
  }
  await expect(target).toBeFocused();
}

test('register, join, post, react, reply in a thread and log out with the keyboard alone', async ({ browser, page }) => {
  // Someone else's room to join (set up with the mouse, in another browser).
  const other = await browser.newContext();
  const host = await other.newPage();
  await register(host, uniqueName('kbhost'));
  const roomName = `kb-${uniqueName('r')}`;
  const id = await createRoom(host, roomName);
  await other.close();

  await page.goto('/');
  await hydrated(page);
  const form = page.getByRole('region', { name: 'Register' });
  await tabTo(page, form.getByLabel('Username'));
  await page.keyboard.type(uniqueName('kb'));
  await page.keyboard.press('Tab');
  await expect(form.getByLabel('Password')).toBeFocused();
  await page.keyboard.type('correct horse battery');
  await page.keyboard.press('Enter');
  await expect(page.locator('summary[aria-label^="Account: "]')).toBeAttached();

  // Browse rooms → the room → Join.
  await tabTo(page, page.getByRole('link', { name: 'Browse rooms' }));
  await page.keyboard.press('Enter');
  const listed = page.getByRole('main').getByRole('link', { name: roomName });
  await tabTo(page, listed);
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByRole('button', { name: 'Join room' }));
  await page.keyboard.press('Enter');
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await expect(composer).toBeVisible();
  expect(page.url()).toContain(`/r/${id}`);
  await hydrated(page);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');

  // Post.
  await tabTo(page, composer);
  await page.keyboard.type('typed without a mouse');
  await page.keyboard.press('Enter');
  const mine = messageLog(page).locator('article:not([data-pending])').filter({ hasText: 'typed without a mouse' });
  await expect(mine).toBeVisible();

  // React: the message's "⋯" menu, React, then 👍.
  await tabTo(page, mine.locator('summary[aria-label="More actions"]'));
  await page.keyboard.press('Enter');
  await tabTo(page, mine.getByRole('link', { name: 'React', exact: true }));
  await page.keyboard.press('Enter');
  await tabTo(page, mine.getByRole('button', { name: 'React with 👍' }));
  await page.keyboard.press('Enter');
  await expect(mine.getByRole('button', { name: /^👍 1/ })).toBeVisible();

  // Reply in its thread.
  await tabTo(page, mine.locator('summary[aria-label="More actions"]'));
  await page.keyboard.press('Enter');
  await tabTo(page, mine.getByRole('link', { name: 'Reply', exact: true }));
  await page.keyboard.press('Enter');
  const reply = page.getByRole('textbox', { name: 'Reply', exact: true });
  await tabTo(page, reply);
  await page.keyboard.type('a reply, by keyboard');
  await page.keyboard.press('Enter');
  const thread = page.getByRole('complementary', { name: /Thread/ });
  await expect(thread.locator('article:not([data-pending])').filter({ hasText: 'a reply, by keyboard' })).toBeVisible();

  // Log out from the account menu.
  await tabTo(page, page.locator('summary[aria-label^="Account: "]'));
  await page.keyboard.press('Enter');
  await tabTo(page, page.getByRole('button', { name: 'Log out', exact: true }));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('region', { name: 'Log in' })).toBeVisible();
});

test('Ctrl+K jumps to a conversation, ? lists the shortcuts, ↑ edits and Escape closes', async ({ page }) => {
  await register(page, uniqueName('kbs'));
  const alpha = `alpha-${uniqueName('r')}`;
  const beta = `beta-${uniqueName('r')}`;
  const alphaId = await createRoom(page, alpha);
  await createRoom(page, beta);
  await hydrated(page);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');

  // The switcher, from inside the message box: typing narrows, Enter opens, focus is in the
  // message box of the room it opened.
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.focus();
  await page.keyboard.press('Control+k');
  const switcher = page.getByRole('dialog', { name: 'Jump to a conversation' });
  await expect(switcher).toBeVisible();
  const box = switcher.getByRole('combobox', { name: 'Room or person' });
  await expect(box).toBeFocused();
  await expect(switcher.getByRole('option')).toHaveCount(3); // general, alpha, beta
  await page.keyboard.type('alph');
  await expect(switcher.getByRole('option')).toHaveCount(1);
  await expect(switcher.getByRole('option').first()).toHaveAttribute('aria-selected', 'true');
  await page.keyboard.press('Enter');
  await expect(switcher).toBeHidden();
  await expect(page.getByRole('heading', { level: 1, name: alpha })).toBeVisible();
  expect(page.url()).toContain(`/r/${alphaId}`);
  await expect(composer).toBeFocused();

  // Nothing matches: said so; Escape closes and the page is as it was.
  await page.keyboard.press('Control+k');
  await expect(box).toBeFocused();
  await page.keyboard.type('no such room');
  await expect(switcher.getByRole('status')).toHaveText(/No room or conversation matches/);
  await page.keyboard.press('Escape');
  await expect(switcher).toBeHidden();
  await expect(page.getByRole('heading', { level: 1, name: alpha })).toBeVisible();

  // ? outside a text field: the shortcuts, as a table; Escape closes it. In the message box,
  // ? is only a character.
  await composer.fill('');
  await composer.pressSequentially('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeHidden();
  await expect(composer).toHaveValue('?');
  await composer.fill('');
  await page.getByRole('heading', { level: 1, name: alpha }).click();
  await page.keyboard.press('Shift+?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(help).toBeVisible();
  await expect(help.getByRole('row', { name: /Ctrl \+ K/ })).toBeVisible();
  await expect(help.getByRole('row', { name: /Edit your last message/ })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(help).toBeHidden();

  // ↑ in the empty message box edits the newest own message; Escape puts it back.
  await composer.focus();
  await composer.fill('first draft');
  await page.keyboard.press('Enter');
  const mine = messageLog(page).locator('article:not([data-pending])').filter({ hasText: 'first draft' });
  await expect(mine).toBeVisible();
  await expect(composer).toHaveValue('');
  await page.keyboard.press('ArrowUp');
  const edit = page.getByRole('textbox', { name: 'Edit message' });
  await expect(edit).toBeFocused();
  await expect(edit).toHaveValue('first draft');
  await page.keyboard.press('Escape');
  await expect(edit).toBeHidden();
  await expect(page).not.toHaveURL(/edit=/);
  await composer.focus();
  await page.keyboard.press('ArrowUp');
  await expect(edit).toBeFocused();
  await page.keyboard.type(', fixed');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Save' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(mine).toContainText('first draft, fixed');
  await expect(mine).toContainText('(edited');
  // With text in the box, ↑ is the caret's, not an edit.
  await composer.fill('line one\nline two');
  await composer.press('ArrowUp');
  await expect(page).not.toHaveURL(/edit=/);

  // Escape closes the thread panel (a menu open in it closes first).
  await composer.fill('');
  await messageAction(mine, 'Reply');
  const thread = page.getByRole('complementary', { name: /Thread/ });
  await expect(thread).toBeVisible();
  await thread.locator('summary[aria-label="More actions"]').first().click();
  await page.keyboard.press('Escape');
  await expect(thread.locator('details.menu[open]')).toHaveCount(0);
  await expect(thread).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(thread).toBeHidden();
  await expect(page).not.toHaveURL(/thread=/);
});

test('Enter that ends an input method composition sends nothing; the next Enter sends', async ({ page }) => {
  await register(page, uniqueName('ime'));
  await createRoom(page, `ime-${uniqueName('r')}`);
  await hydrated(page);
  await expect(messageLog(page)).toHaveAttribute('data-live', 'open');
  const composer = page.getByRole('textbox', { name: 'Message', exact: true });
  await composer.focus();
  // Record whether the page saw the composing Enter as composing.
  await page.evaluate(() => {
    (window as any).enterComposing = [];
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') (window as any).enterComposing.push(ev.isComposing);
    }, true);
  });
  const cdp = await page.context().newCDPSession(page);
  // Pinyin "nihao" being composed; Enter picks the candidate, which commits "你好".
  await cdp.send('Input.imeSetComposition', { text: 'nihao', selectionStart: 5, selectionEnd: 5 });
  await expect(composer).toHaveValue('nihao');
  await cdp.send('Input.dispatchKeyEvent', {
    type: 'rawKeyDown', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 229,
  });
  await cdp.send('Input.insertText', { text: '你好' });
  await cdp.send('Input.dispatchKeyEvent', {
    type: 'keyUp', key: 'Enter', code: 'Enter', windowsVirtualKeyCode: 13,
  });
  await expect(composer).toHaveValue('你好');
  expect(await page.evaluate(() => (window as any).enterComposing)).toEqual([true]);
  // Nothing went out: the box still holds the text and the room has no message.
  await page.waitForTimeout(500);
  await expect(messageLog(page).locator('article')).toHaveCount(0);

  await page.keyboard.press('Enter');
  await expect(messageLog(page).locator('article:not([data-pending])').filter({ hasText: '你好' })).toBeVisible();
  await expect(composer).toHaveValue('');
});
