// Dark mode: the page follows the system until this device chooses Light or Dark in the
// account menu; the choice is rendered by the server from the first paint, survives a reload,
// and works as a plain form without JavaScript.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { hydrated, openAccountMenu, register, uniqueName } from './helpers';

/** The page's background colour, as painted. */
function background(page: Page): Promise<string> {
  return page.evaluate(() => getComputedStyle(document.body).backgroundColor);
}

const LIGHT = 'rgb(247, 247, 249)';
const DARK = 'rgb(21, 23, 28)';

test('the theme follows the system until this device picks one, and the pick sticks', async ({ browser }) => {
  const context = await browser.newContext({ colorScheme: 'light' });
  const page = await context.newPage();
  await register(page, uniqueName('theme'));
  await hydrated(page);
  expect(await background(page)).toBe(LIGHT);
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await background(page)).toBe(DARK);

  // Light, whatever the system says.
  const menu = await openAccountMenu(page);
  const theme = menu.getByRole('group', { name: 'Theme' });
  await expect(theme.getByRole('button', { name: 'System' })).toHaveAttribute('aria-pressed', 'true');
  await theme.getByRole('button', { name: 'Light' }).click();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'light');
  await expect(theme.getByRole('button', { name: 'Light' })).toHaveAttribute('aria-pressed', 'true');
  expect(await background(page)).toBe(LIGHT);

  // The server renders the choice: the first response already carries it.
  const response = await page.reload();
  expect(await response!.text()).toMatch(/<html[^>]*data-theme="light"/);
  expect(await background(page)).toBe(LIGHT);

  // Back to the system's.
  await hydrated(page);
  await (await openAccountMenu(page)).getByRole('group', { name: 'Theme' }).getByRole('button', { name: 'System' }).click();
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);
  expect(await background(page)).toBe(DARK);
  await context.close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false, colorScheme: 'light' });

  test('the theme switch is a plain form', async ({ page }) => {
    await register(page, uniqueName('nojstheme'), { js: false });
    await page.locator('summary[aria-label^="Account: "]').click();
    await page.getByRole('group', { name: 'Theme' }).getByRole('button', { name: 'Dark' }).click();
    await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
    expect(await background(page)).toBe(DARK);
    await page.locator('summary[aria-label^="Account: "]').click();
    await expect(page.getByRole('group', { name: 'Theme' }).getByRole('button', { name: 'Dark' }))
      .toHaveAttribute('aria-pressed', 'true');
  });
});
