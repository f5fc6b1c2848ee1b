// The first-load benchmark (docs/benchmarks.md, "First load on a phone"): how many bytes a room
// page fetches before it is interactive, and how long a person on a mid-range phone waits for a
// message box that works, with a cold cache and with a warm one.
//
//   node end2end/scripts/first-load.mjs [runs]      (after `cargo leptos build --release --precompress --split`)
//
// It starts the release server on a fresh SQLite file on loopback, registers one account with a
// room of 50 messages, then opens that room `runs` times (default 5) in Debian's Chromium under
// CDP throttling: the CPU 4× slower, 1.6 Mbit/s down, 750 kbit/s up, 150 ms round trip.
// - cold: a new browser context each time (empty HTTP cache, no service worker);
// - warm: the same room opened again in a context that has loaded it once (HTTP cache and the
//   service worker both warm).
// Each run prints first contentful paint (the server-rendered page), the time until the page has
// hydrated (the message box then takes input and sends through the outbox; the run checks that
// typing into it works), and the bytes of JS, WASM and CSS on the wire. It ends with medians.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRoom, launchChromium, register, root, say, startServer } from './local-server.mjs';

const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  console.error('usage: node end2end/scripts/first-load.mjs [runs, 1 to 50]');
  process.exit(2);
}
const PHONE = {
  cpu: 4,
  network: {
    offline: false,
    latency: 150,
    downloadThroughput: (1.6 * 1024 * 1024) / 8,
    uploadThroughput: (750 * 1024) / 8,
  },
};
const BUNDLE = /\/pkg\/.*\.(js|wasm|css)$/;

/** One account with a room of 50 messages; returns its cookies and the room's address. */
async function seed(browser, url) {
  const context = await browser.newContext({ baseURL: url });
  const page = await context.newPage();
  await register(page, `bench${Date.now().toString(36)}`);
  const room = await createRoom(page, 'first-load');
  await say(
    page,
    Array.from({ length: 50 }, (_, i) => `message ${i + 1}: the quick brown fox jumps over the lazy dog`),
  );
  const cookies = await context.cookies();
  await context.close();
  return { cookies, room };
}

/** Opens `room` in `page` under phone throttling and measures it. */
async function measure(page, room) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', PHONE.network);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: PHONE.cpu });
  // Bytes on the wire per bundle file (0 when served from the HTTP cache or the worker).
  const wire = new Map();
  cdp.on('Network.responseReceived', (e) => {
    if (BUNDLE.test(e.response.url)) wire.set(e.requestId, { url: e.response.url, bytes: 0 });
  });
  cdp.on('Network.loadingFinished', (e) => {
    const file = wire.get(e.requestId);
    if (file) file.bytes = e.encodedDataLength;
  });
  await page.goto(room, { waitUntil: 'commit' });
  await page.locator('body[data-hydrated="true"]').waitFor({ timeout: 120_000 });
  const timing = await page.evaluate(() => ({
    hydrated: window.__confabHydratedAt,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
  }));
  // The message box works: what is typed lands in it, and Enter sends through the outbox.
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.pressSequentially('ok');
  const typed = await box.inputValue();
  if (typed !== 'ok') throw new Error(`typing into the message box gave ${JSON.stringify(typed)}`);
  await box.fill('');
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
  await cdp.detach();
  const bytes = [...wire.values()].reduce((sum, f) => sum + f.bytes, 0);
  return { fcp: timing.fcp, usable: timing.hydrated, bytes };
}

/** Notes when hydration finished, in the page's own clock (ms since navigation). */
const MARK_HYDRATION = () => {
  new MutationObserver((_, observer) => {
    if (document.body?.dataset.hydrated === 'true') {
      window.__confabHydratedAt = performance.now();
      observer.disconnect();
    }
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
};

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
const kib = (b) => `${(b / 1024).toFixed(1)} KiB`;

function bundleOnDisk() {
  const hashes = fs.readFileSync(path.join(root, 'target/release/hash.txt'), 'utf8');
  const pkg = path.join(root, 'target/site/pkg');
  const rows = [];
  for (const line of hashes.split('\n')) {
    const [kind, hash] = line.split(':').map((s) => s?.trim());
    if (!['js', 'wasm', 'css'].includes(kind) || !hash) continue;
    const file = path.join(pkg, `confab.${hash}.${kind}`);
    const br = fs.existsSync(`${file}.br`) ? fs.statSync(`${file}.br`).size : NaN;
    rows.push({ kind, raw: fs.statSync(file).size, br });
  }
  return rows;
}

const server = await startServer({ CONFAB_POST_RATE_PER_USER: '1000000/s' });
const browser = await launchChromium();
try {
  for (const { kind, raw, br } of bundleOnDisk()) {
    console.log(`bundle ${kind.padEnd(4)} ${String(raw).padStart(9)} B raw  ${String(br).padStart(8)} B brotli`);
  }
  const { cookies, room } = await seed(browser, server.url);
  const cold = [];
  const warm = [];
  for (let i = 1; i <= runs; i++) {
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 360, height: 740 } });
    await context.addCookies(cookies);
    await context.addInitScript(MARK_HYDRATION);
    const first = await context.newPage();
    const c = await measure(first, room);
    cold.push(c);
    // The worker installs and precaches; the next visit is a returning one.
    await first.evaluate(() => navigator.serviceWorker?.ready);
    await first.close();
    const second = await context.newPage();
    const w = await measure(second, room);
    warm.push(w);
    await context.close();
    console.log(
      `run ${i}: cold FCP ${secs(c.fcp)}, usable ${secs(c.usable)}, ${kib(c.bytes)} of bundle on the wire` +
        ` | warm FCP ${secs(w.fcp)}, usable ${secs(w.usable)}, ${kib(w.bytes)} on the wire`,
    );
  }
  console.log(`median of ${runs}:`);
  console.log(`  cold: FCP ${secs(median(cold.map((r) => r.fcp)))}, usable message box ${secs(median(cold.map((r) => r.usable)))}, bundle ${kib(median(cold.map((r) => r.bytes)))}`);
  console.log(`  warm: FCP ${secs(median(warm.map((r) => r.fcp)))}, usable message box ${secs(median(warm.map((r) => r.usable)))}, bundle ${kib(median(warm.map((r) => r.bytes)))}`);
} finally {
  await browser.close();
  server.stop();
}
