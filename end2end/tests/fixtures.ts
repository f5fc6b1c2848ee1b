// Every browser test runs under a watch for Content-Security-Policy violations and for uncaught
// script errors: a page that breaks our own policy (an inline script without the nonce, a style
// attribute, a fetch to another origin), or whose WASM panics (a failed hydration does), is a bug
// even when the test's own steps pass. Specs import `test` and `expect` from here instead of
// from Playwright.
import { test as base, expect, Browser, BrowserContext } from '@playwright/test';

/** What Chromium reported as blocked by a policy (console errors), and the uncaught errors of
 * its pages, in this test so far. */
export interface CspWatch {
  violations: string[];
  errors: string[];
}

function watch(context: BrowserContext, seen: CspWatch): void {
  context.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      seen.violations.push(`${message.location().url}: ${message.text()}`);
    }
  });
  context.on('weberror', (error) => {
    seen.errors.push(`${error.page()?.url() ?? '(no page)'}: ${error.error().message}`);
  });
}

export const test = base.extend<{ csp: CspWatch }>({
  csp: [
    async ({ browser }, use) => {
      const csp: CspWatch = { violations: [], errors: [] };
      // Contexts a test makes itself, and the one behind the `page` fixture, come from here.
      const target = browser as Browser & { newContext: Browser['newContext'] };
      const original = target.newContext;
      target.newContext = async (...args: Parameters<Browser['newContext']>) => {
        const context = await original.apply(target, args);
        watch(context, csp);
        return context;
      };
      try {
        await use(csp);
      } finally {
        target.newContext = original;
      }
      expect(csp.violations, 'no page broke the Content-Security-Policy').toEqual([]);
      expect(csp.errors, 'no page had an uncaught error (a WASM panic, a failed hydration)').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
