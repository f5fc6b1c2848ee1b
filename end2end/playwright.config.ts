// Confab's browser tests: Debian's Chromium (no downloaded browsers) against the release build
// of the real server on loopback, with a fresh SQLite database for each run.
import { RELAXED_LIMITS } from './tests/limits';
import { defineConfig } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The config is evaluated in the runner and in every worker; the runner picks the database.
process.env.CONFAB_E2E_DB ??= path.join(
  fs.mkdtempSync(path.join(os.tmpdir(), 'confab-e2e-')),
  'confab.db',
);
const port = process.env.CONFAB_E2E_PORT ?? '3010';
const baseURL = `http://127.0.0.1:${port}`;
const root = path.resolve(__dirname, '..');

export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  workers: 2,
  reporter: [['list']],
  use: {
    baseURL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  webServer: {
    command: path.join(root, 'target/release/confab'),
    cwd: root,
    url: `${baseURL}/`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore',
    stderr: 'pipe',
    env: {
      DATABASE_URL: process.env.CONFAB_E2E_DB,
      CONFAB_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: 'target/site',
      RUST_LOG: 'warn',
      // The VAPID contact push services would be given (none is reachable here).
      CONFAB_PUBLIC_URL: 'https://confab.test',
      // previews.spec.ts serves the linked site on loopback under this name.
      CONFAB_PREVIEW_RESOLVE: 'og.test=127.0.0.1',
      CONFAB_PREVIEW_TRUSTED_HOSTS: 'og.test',
      // webhooks.spec.ts runs an outgoing webhook's receiver on loopback.
      CONFAB_WEBHOOK_TRUSTED_HOSTS: '127.0.0.1',
      ...RELAXED_LIMITS,
    },
  },
});
