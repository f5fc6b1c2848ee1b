// Shared steps for the browser tests: they act as a person would, through labels and roles.
import { expect, Page, Locator } from '@playwright/test';

/** A username unique to this run and test. */
export function uniqueName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
}

/** Waits until the WASM app has taken over the server-rendered page (clicks before that land on dead HTML). */
export async function hydrated(page: Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor();
}

export const PASSWORD = 'correct horse battery';

/** Opens Confab and registers `name`; leaves the member's home page open. */
export async function register(page: Page, name: string, opts: { js?: boolean } = {}): Promise<void> {
  await page.goto('/');
  if (opts.js !== false) await hydrated(page);
  const form = page.getByRole('region', { name: 'Register' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
}

/** Logs in as `name` from the visitor screen. */
export async function logIn(page: Page, name: string, password = PASSWORD): Promise<void> {
  const form = page.getByRole('region', { name: 'Log in' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Log in' }).click();
}

/** The message list of the open room. */
export function messageLog(page: Page): Locator {
  return page.getByRole('log', { name: 'Messages' });
}

/** Types `text` in the composer and sends it. */
export async function send(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
}

/** Sends `text` and waits until it is shown in the list. */
export async function post(page: Page, text: string): Promise<void> {
  await send(page, text);
  await expect(messageLog(page).getByRole('article').filter({ hasText: text })).toBeVisible();
}

/** Creates a public room from the directory and returns its id. */
export async function createRoom(page: Page, name: string): Promise<number> {
  await page.getByRole('link', { name: 'Browse rooms' }).click();
  await page.getByRole('textbox', { name: 'Room name' }).fill(name);
  await page.getByRole('button', { name: 'Create room' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  return roomId(page);
}

/** The id of the room open in `page`. */
export function roomId(page: Page): number {
  const match = /\/r\/(\d+)/.exec(page.url());
  if (!match) throw new Error(`not on a room page: ${page.url()}`);
  return Number(match[1]);
}
