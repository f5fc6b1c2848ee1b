// The README's screenshots, made from the real app so they stay current:
//
//   node end2end/scripts/screenshots.mjs      (after `cargo leptos build --release --precompress --split`)
//
// It starts the release server on a fresh database, has three people talk in a room (a thread,
// a code block, a mention, Chinese and Korean text), and photographs that room as one of them
// sees it: at phone (360 × 740) and desktop (1280 × 800) width, in the light and the dark theme.
// The images go to docs/images/. The Chinese, Korean and emoji need fonts that Debian's
// Chromium does not bring: `apt-get install fonts-noto-cjk fonts-noto-color-emoji`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRoom, hydrated, launchChromium, register, root, say, startServer } from './local-server.mjs';

const out = path.join(root, 'docs/images');
const people = ['maya', 'kenji', 'soyeon'];

const server = await startServer({
  CONFAB_POST_RATE_PER_USER: '1000000/s',
  CONFAB_REGISTER_RATE_PER_IP: '1000000/s',
});
const browser = await launchChromium();
try {
  const pages = {};
  for (const name of people) {
    const context = await browser.newContext({ baseURL: server.url });
    pages[name] = await context.newPage();
    await register(pages[name], name);
  }
  const { maya, kenji, soyeon } = pages;
  const room = await createRoom(maya, 'launch');
  for (const page of [kenji, soyeon]) {
    await page.goto(room);
    await hydrated(page);
    await page.getByRole('button', { name: 'Join room' }).click();
    await page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  }
  await say(maya, ['Morning! The release candidate is up on staging.']);
  await say(kenji, ['Looks good here. One thing: the health check still reports the old version.']);
  await say(kenji, ['```sh\ncurl -s https://staging.example/health\n{"version":"0.9.1"}\n```']);
  await say(soyeon, ['배포 전에 한국어 번역도 확인할게요. 中文的部分我也看过了 👍']);
  await say(maya, ['@kenji good catch: the image tag was not bumped. Fixing it now.']);
  // A thread under Kenji's message.
  const log = maya.getByRole('log', { name: 'Messages' });
  const asked = log.getByRole('article').filter({ hasText: 'health check still reports' });
  await asked.locator('summary[aria-label="More actions"]').click();
  await asked.getByRole('link', { name: 'Reply', exact: true }).click();
  const thread = maya.getByRole('complementary', { name: 'Thread' });
  await thread.getByRole('textbox', { name: 'Reply', exact: true }).fill('Tag bumped to 0.9.2, redeploying.');
  await thread.getByRole('button', { name: 'Reply', exact: true }).click();
  await thread.locator('article:not([data-pending])').filter({ hasText: 'Tag bumped' }).waitFor();
  await say(kenji, ['Health check says 0.9.2 now. Ship it!']);

  fs.mkdirSync(out, { recursive: true });
  const shots = [];
  for (const [width, height, size] of [[1280, 800, 'desktop'], [360, 740, 'phone']]) {
    for (const scheme of ['light', 'dark']) {
      const context = await browser.newContext({
        baseURL: server.url,
        viewport: { width, height },
        colorScheme: scheme,
        deviceScaleFactor: 1,
      });
      await context.addCookies(await maya.context().cookies());
      const page = await context.newPage();
      await page.goto(room);
      await hydrated(page);
      await page.getByRole('log', { name: 'Messages' }).getByText('Ship it!').waitFor();
      // Maya answered the notification prompt long ago (it shows once, in the sidebar).
      const notNow = page.getByRole('button', { name: 'Not now' });
      if (await notNow.isVisible()) await notNow.click();
      // The live socket's first frames (presence) settle before the picture is taken.
      await page.waitForTimeout(500);
      const file = path.join(out, `room-${size}-${scheme}.png`);
      await page.screenshot({ path: file });
      shots.push(path.relative(root, file));
      await context.close();
    }
  }
  console.log(shots.join('\n'));
} finally {
  await browser.close();
  server.stop();
}
