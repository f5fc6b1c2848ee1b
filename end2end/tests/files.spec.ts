// Attachments: an image sent in a DM shows as a thumbnail on the other member's screen live,
// other files as a download link with name and size; an outsider's direct request gets 404.
// Files attach in the composer with the paperclip, by pasting and by dropping them onto the
// room, and go with the next Send; the upload form works without JavaScript, refusals included.
import { test, expect } from './fixtures';
import { Page } from '@playwright/test';
import { aliceAndBob, hydrated, messageLog, openDm, png, register, uniqueName } from './helpers';

/** The files waiting in `page`'s room composer for the next Send. */
function staged(page: Page) {
  return page.locator('form.composer').getByRole('list', { name: 'Files to send' });
}

test('an image shows as a thumbnail to the other member, and outsiders get 404', async ({ browser }) => {
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser);
  await openDm(a, bobName);
  await openDm(b, aliceName);
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  await hydrated(a);

  // The paperclip's picker stages the file; Send sends it with the text as its caption.
  await a.getByLabel('Attach files').first().setInputFiles({ name: 'chart.png', mimeType: 'image/png', buffer: png(640, 400) });
  await expect(staged(a)).toContainText('chart.png');
  await a.getByRole('textbox', { name: 'Message', exact: true }).fill('the new chart');
  await a.getByRole('button', { name: 'Send' }).click();
  await expect(staged(a)).toHaveCount(0);
  await expect(a.getByRole('textbox', { name: 'Message', exact: true })).toHaveValue('');

  // Live on Bob's screen: the caption and the thumbnail, loaded (320 px wide, from 640).
  const sent = messageLog(b).getByRole('article').filter({ hasText: 'the new chart' });
  const thumb = sent.getByRole('img', { name: 'chart.png' });
  await expect(thumb).toBeVisible();
  await expect.poll(() => thumb.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(320);
  const full = await thumb.locator('xpath=..').getAttribute('href');
  const thumbUrl = await thumb.getAttribute('src');
  expect(full).toMatch(/^\/files\/\d+\/\d+\/[0-9a-f-]{36}$/);
  const got = await b.request.get(full!);
  expect(got.status()).toBe(200);
  expect(got.headers()['content-type']).toBe('image/png');
  expect((await got.body()).length).toBe(png(640, 400).length);

  // Another file: a download link with its name and size, on both screens.
  await a.getByLabel('Attach files').first().setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('agenda: ship it\n') });
  await a.getByRole('button', { name: 'Send' }).click();
  const link = messageLog(b).getByRole('link', { name: 'notes.txt' });
  await expect(link).toBeVisible();
  await expect(link.locator('xpath=..')).toContainText('16 B');
  await expect(messageLog(a).getByRole('link', { name: 'notes.txt' })).toBeVisible();

  // Eve, who is not in the DM, is refused the file and its thumbnail at their direct URLs.
  const eve = await browser.newContext();
  const e = await eve.newPage();
  await register(e, uniqueName('eve'));
  expect((await e.request.get(full!)).status()).toBe(404);
  expect((await e.request.get(thumbUrl!)).status()).toBe(404);
  await Promise.all([alice.close(), bob.close(), eve.close()]);
});

test('a refused upload says why and can be retried', async ({ browser }) => {
  const { alice, bob, a, bobName } = await aliceAndBob(browser);
  await openDm(a, bobName);
  await hydrated(a);
  await a.getByLabel('Attach files').first().setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
  await a.getByRole('button', { name: 'Send' }).click();
  const alert = a.locator('form.composer').getByRole('alert');
  await expect(alert).toContainText('logo.png is not what its name says');
  // Retrying sends the same files again, and is refused again for the same reason.
  await alert.getByRole('button', { name: 'Retry' }).click();
  await expect(alert).toContainText('not what its name says');
  await expect(messageLog(a).getByRole('article')).toHaveCount(0);
  await Promise.all([alice.close(), bob.close()]);
});

test('a pasted image and files dropped onto the room attach to the message', async ({ browser }) => {
  const { alice, bob, a, bobName } = await aliceAndBob(browser);
  await openDm(a, bobName);
  await hydrated(a);
  await expect(messageLog(a)).toHaveAttribute('data-live', 'open');

  // Pasting an image into the message box, as a screenshot tool's copy would.
  const image = [...png(64, 48)];
  await a.getByRole('textbox', { name: 'Message', exact: true }).evaluate((box, bytes) => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
    box.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
  }, image);
  await expect(staged(a)).toContainText('pasted.png');
  await a.getByRole('button', { name: 'Send' }).click();
  await expect(messageLog(a).getByRole('img', { name: 'pasted.png' })).toBeVisible();

  // Two files dropped onto the message list; one is taken back before sending.
  await a.locator('.history').evaluate((list) => {
    const data = new DataTransfer();
    data.items.add(new File(['first'], 'keep.txt', { type: 'text/plain' }));
    data.items.add(new File(['second'], 'drop-me.txt', { type: 'text/plain' }));
    const over = new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true });
    list.dispatchEvent(over);
    if (!over.defaultPrevented) throw new Error('the room does not accept a drop');
    list.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
  });
  await expect(staged(a).getByRole('listitem')).toHaveCount(2);
  await staged(a).getByRole('button', { name: 'Remove drop-me.txt' }).click();
  await expect(staged(a).getByRole('listitem')).toHaveCount(1);
  await a.getByRole('textbox', { name: 'Message', exact: true }).fill('dropped in');
  await a.getByRole('button', { name: 'Send' }).click();
  const sent = messageLog(a).getByRole('article').filter({ hasText: 'dropped in' });
  await expect(sent.getByRole('link', { name: 'keep.txt' })).toBeVisible();
  await expect(sent.getByRole('link', { name: 'drop-me.txt' })).toHaveCount(0);
  await Promise.all([alice.close(), bob.close()]);
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('files upload as a plain form, and refusals come back to the room', async ({ page }) => {
    await register(page, uniqueName('nojsfiles'), { js: false });
    await page.getByRole('navigation').getByRole('link', { name: 'general' }).click();
    const caption = `minutes ${uniqueName('m')}`;
    await page.getByLabel('Attach files').first().setInputFiles({ name: 'minutes.txt', mimeType: 'text/plain', buffer: Buffer.from('we met; we agreed') });
    await page.getByRole('textbox', { name: 'Caption' }).first().fill(caption);
    await page.getByRole('button', { name: 'Upload' }).first().click();
    const sent = messageLog(page).getByRole('article').filter({ hasText: caption });
    await expect(sent.getByRole('link', { name: 'minutes.txt' })).toBeVisible();
    expect(page.url()).toMatch(/\/r\/1#m\d+$/);

    await page.getByLabel('Attach files').first().setInputFiles({ name: 'empty.txt', mimeType: 'text/plain', buffer: Buffer.alloc(0) });
    await page.getByRole('button', { name: 'Upload' }).first().click();
    await expect(page.locator('form.upload').getByRole('alert')).toContainText('empty.txt is empty');
  });
});
