// What the scripts beside this one share (the first-load benchmark, the README's screenshots):
// the release server on a fresh SQLite file on loopback, Debian's Chromium, and the few steps a
// person takes to have an account and a room. The browser tests have their own, in tests/.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const PASSWORD = 'correct horse battery';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts `target/release/confab` on a free port and a database of its own; `stop()` ends it
 * and removes the database. */
export async function startServer(env = {}) {
  const binary = path.join(root, 'target/release/confab');
  if (!fs.existsSync(binary)) {
    throw new Error('no target/release/confab: run `cargo leptos build --release --precompress --split` first');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'confab-script-'));
  const port = await freePort();
  const child = spawn(binary, [], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: path.join(dir, 'confab.db'),
      CONFAB_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      RUST_LOG: 'warn',
      ...env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error('the server did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: () => {
      child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}

export async function hydrated(page) {
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
}

/** Registers `name` from the home page and waits until they are signed in. */
export async function register(page, name) {
  await page.goto('/');
  await hydrated(page);
  const form = page.getByRole('region', { name: 'Register' });
  await form.getByLabel('Username').fill(name);
  await form.getByLabel('Password').fill(PASSWORD);
  await form.getByRole('button', { name: 'Register' }).click();
  await page.locator('summary[aria-label^="Account: "]').waitFor({ state: 'attached' });
}

/** Creates the public room `name` from the directory; leaves it open and returns its path. */
export async function createRoom(page, name) {
  await page.goto('/rooms');
  await hydrated(page);
  await page.getByRole('textbox', { name: 'Room name' }).fill(name);
  await page.getByRole('button', { name: 'Create room' }).click();
  await page.getByRole('heading', { level: 1, name }).waitFor();
  return new URL(page.url()).pathname;
}

/** Sends each of `texts` in the open room, and waits until the server has them all (none is
 * pending in the outbox any more). */
export async function say(page, texts) {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  for (const text of texts) {
    await box.fill(text);
    await box.press('Enter');
  }
  await page.waitForFunction(
    () => !document.querySelector('[role="log"][aria-label="Messages"] article[data-pending]'),
  );
}
