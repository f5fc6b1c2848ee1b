// "Download my data": the link in the sidebar gives a file with the user's own rooms and DMs,
// and never another pair's DM.
import { Page, Download } from '@playwright/test';
import { test, expect } from './fixtures';
import * as fs from 'fs';
import { register, uniqueName, post, hydrated, openAccountMenu, startDm } from './helpers';

async function downloaded(page: Page, linkName: string): Promise<{ file: Download; text: string }> {
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    openAccountMenu(page).then((menu) => menu.getByRole('link', { name: linkName }).first().click()),
  ]);
  const path = await file.path();
  return { file, text: fs.readFileSync(path, 'utf8') };
}

test('"Download my data" holds my messages and DMs but no one else\'s DMs', async ({ browser }) => {
  const [ca, cb, cc] = [await browser.newContext(), await browser.newContext(), await browser.newContext()];
  const [a, b, c] = [await ca.newPage(), await cb.newPage(), await cc.newPage()];
  const aliceName = uniqueName('alice');
  const bobName = uniqueName('bob');
  const carolName = uniqueName('carol');
  await register(a, aliceName);
  await register(b, bobName);
  await register(c, carolName);

  // alice and bob talk privately; carol talks in general and to herself.
  await startDm(a, bobName);
  await expect(a.getByRole('heading', { level: 1, name: bobName })).toBeVisible();
  await post(a, `secret between ${aliceName} and ${bobName}`);
  await c.getByRole('navigation').getByRole('link', { name: 'general' }).click();
  await hydrated(c);
  await post(c, `hello from ${carolName}, with "quotes", commas and\na second line`);
  await startDm(c, carolName);
  await expect(c.getByRole('heading', { level: 1, name: carolName })).toBeVisible();
  await post(c, 'a note to myself');

  const jsonl = await downloaded(c, 'JSONL');
  expect(jsonl.file.suggestedFilename()).toMatch(new RegExp(`^confab-${carolName}-\\d{4}-\\d{2}-\\d{2}\\.jsonl$`));
  const records = jsonl.text.trim().split('\n').map((line) => JSON.parse(line));
  expect(records[0]).toMatchObject({ format: 'confab-backup', version: 1 });
  const texts = records.filter((r) => r.type === 'message').map((r) => r.text);
  expect(texts).toContain(`hello from ${carolName}, with "quotes", commas and\na second line`);
  expect(texts).toContain('a note to myself');
  expect(jsonl.text).not.toContain('secret between');
  expect(jsonl.text).not.toContain('password_hash');
  expect(records[records.length - 1]).toMatchObject({ type: 'end', messages: texts.length });

  const csv = await downloaded(c, 'CSV');
  expect(csv.text.startsWith('id,room,seq,from,date,text\r\n')).toBe(true);
  expect(csv.text).toContain(`"hello from ${carolName}, with ""quotes"", commas and\na second line"`);
  expect(csv.text).not.toContain('secret between');

  // bob, a member of the DM, gets it; only the first account (an admin) sees the instance link.
  const bobs = await downloaded(b, 'JSONL');
  expect(bobs.text).toContain(`secret between ${aliceName} and ${bobName}`);
  await expect(c.getByRole('region', { name: 'Your data' }).getByText('Instance backup')).toHaveCount(0);
  // To anyone but an admin, the instance backup does not exist.
  const refused = await c.request.get('/export/instance');
  expect(refused.status()).toBe(404);
  for (const ctx of [ca, cb, cc]) await ctx.close();
});
