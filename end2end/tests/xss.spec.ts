// A hostile-input corpus: 52 payloads that would run script if any part of the app put user
// text into the page as markup, posted as messages and used as room names and topics. They
// must show as the very text that was typed, in the server-rendered page, after hydration and
// when they arrive live, with nothing executed, no element created from them, and (checked by
// the fixture) no CSP violation: the policy is a second wall, and this test shows the first one
// holds on its own. Usernames allow only letters, digits, '_' and '-', so no payload fits.
import { Page } from '@playwright/test';
import { test, expect } from './fixtures';
import { hydrated, messageLog, register, sidebarLink, uniqueName } from './helpers';
import { OwnServer } from './servers';

const PAYLOADS = [
  '<script>window.__xss = 1</script>',
  '<script src="/xss.js"></script>',
  '<img src=x onerror="window.__xss=2">',
  '<img src="x" onerror=alert(1)>',
  '<svg onload="window.__xss=3">',
  '<svg><script>window.__xss=4</script></svg>',
  '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
  '<iframe src="javascript:window.top.__xss=5"></iframe>',
  '<iframe srcdoc="<script>parent.__xss=6</script>"></iframe>',
  '<object data="javascript:alert(1)"></object>',
  '<embed src="javascript:alert(1)">',
  '<a href="javascript:window.__xss=7">click</a>',
  '<a href="jAvAsCrIpT:alert(1)">x</a>',
  '<a href="&#106;avascript:alert(1)">x</a>',
  '<body onload="window.__xss=8">',
  '<input autofocus onfocus="window.__xss=9">',
  '<details open ontoggle="window.__xss=10">',
  '<video><source onerror="window.__xss=11"></video>',
  '<audio src=x onerror="window.__xss=12">',
  '<marquee onstart="window.__xss=13">',
  '<div style="background:url(javascript:alert(1))">',
  '<style>@import "javascript:alert(1)";</style>',
  '<link rel="stylesheet" href="javascript:alert(1)">',
  '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
  '<base href="javascript:alert(1)//">',
  '<form action="javascript:alert(1)"><button>go</button></form>',
  '<isindex action="javascript:alert(1)" type=image>',
  '<template><script>alert(1)</script></template>',
  '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
  '"><script>window.__xss=14</script>',
  "'><img src=x onerror=alert(1)>",
  '</textarea><script>alert(1)</script>',
  '</title><script>alert(1)</script>',
  '</script><script>alert(1)</script>',
  '<!--<img src=x onerror=alert(1)>-->',
  '<![CDATA[<script>alert(1)</script>]]>',
  '{{constructor.constructor("alert(1)")()}}',
  '${alert(1)}',
  'javascript:alert(1)',
  'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
  '&lt;script&gt;alert(1)&lt;/script&gt;',
  '&#60;script&#62;alert(1)&#60;/script&#62;',
  '\\u003cscript\\u003ealert(1)\\u003c/script\\u003e',
  '%3Cscript%3Ealert(1)%3C/script%3E',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '<SCRIPT>alert(1)</SCRIPT>',
  '<img src=x:alert(alt) onerror=eval(src) alt=0>',
  '<svg><animate onbegin="window.__xss=15" attributeName=x dur=1s>',
  '<x onclick="window.__xss=16">click me</x>',
  '\u202e<b>reversed</b>',
  '<img """><script>alert(1)</script>">',
  '<p onmouseover="window.__xss=17">hover</p>',
];

/** Elements or attributes that only markup could have created. */
async function injected(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const found: string[] = [];
    const root = document.body;
    const selectors = [
      'main script', 'nav script', 'img:not([src^="/avatars/"])', 'svg:not([aria-hidden])', 'iframe', 'object', 'embed',
      'video', 'audio', 'marquee', 'math', 'details:not(.menu)', 'template', 'x', 'isindex', 'base',
      'a[href^="javascript" i]', 'form[action^="javascript" i]', 'link[href^="javascript" i]',
    ];
    for (const s of selectors) {
      for (const el of Array.from(root.querySelectorAll(s))) found.push(`<${el.tagName.toLowerCase()}> via ${s}`);
    }
    for (const el of Array.from(root.querySelectorAll('*'))) {
      for (const attr of Array.from(el.attributes)) {
        if (/^on/i.test(attr.name)) found.push(`${el.tagName.toLowerCase()}[${attr.name}]`);
      }
    }
    return found;
  });
}

async function xssFlag(page: Page): Promise<unknown> {
  return page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss);
}

test('52 hostile payloads as messages, room names and topics stay text, run nothing, and break no policy', async ({ browser }) => {
  test.setTimeout(120_000);
  const server = await OwnServer.start();
  const alice = await browser.newContext({ baseURL: server.url });
  const bob = await browser.newContext({ baseURL: server.url });
  let dialogs = 0;
  alice.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  bob.on('dialog', async (d) => { dialogs++; await d.dismiss(); });
  try {
    const a = await alice.newPage();
    const b = await bob.newPage();
    await register(a, uniqueName('alice'));
    await register(b, uniqueName('bob'));

    // Bob watches a room live while Alice posts every payload into it.
    const create = await a.request.post('/api/create_room', { form: { name: uniqueName('corpus') } });
    expect(create.status()).toBe(200);
    const room = Number(await create.text());
    expect((await b.request.post('/api/join_room', { form: { room_id: String(room) } })).status()).toBe(200);
    await b.goto(`/r/${room}`);
    await hydrated(b);
    await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
    for (const [k, text] of PAYLOADS.entries()) {
      const res = await a.request.post('/api/post_message', {
        form: { room_id: String(room), text, client_id: `xss-${k}` },
      });
      expect(res.status(), text).toBe(200);
    }
    const bodies = (page: Page) => messageLog(page).locator('article:not([data-pending]) .body');
    // Messages are Markdown, rendered on the server: raw HTML shows as the text typed, but
    // CommonMark reads character references (`&lt;`, `&#60;`) as the characters they name.
    const expected = PAYLOADS.map((p) => p.trim().replace(/&lt;|&#60;/g, '<').replace(/&gt;|&#62;/g, '>'));
    // Live (rendered in the browser), then server-rendered, then hydrated.
    await expect.poll(() => bodies(b).allTextContents(), { timeout: 20_000 }).toEqual(expected);
    // A page opens on the newest 50.
    await a.goto(`/r/${room}`);
    expect(await bodies(a).allTextContents()).toEqual(expected.slice(-50));
    await hydrated(a);
    expect(await bodies(a).allTextContents()).toEqual(expected.slice(-50));

    // Each payload as a room name (with a number: names are unique) and as its topic.
    const names: string[] = [];
    for (const [k, payload] of PAYLOADS.entries()) {
      const name = `${k} ${payload}`.slice(0, 64).trim();
      const res = await a.request.post('/api/create_room', { form: { name, topic: payload } });
      expect(res.status(), name).toBe(200);
      names.push(name);
    }
    await a.goto('/rooms');
    await hydrated(a);
    for (const name of names) {
      await expect(a.getByRole('main').getByText(name, { exact: true }).first()).toBeVisible();
    }
    await expect(sidebarLink(a, names[0])).toHaveCount(1);
    // A room page puts the name in the header and in <title>, and the topic under it.
    const last = await a.request.post('/api/create_room', { form: { name: uniqueName('<title>'), topic: PAYLOADS[32] } });
    await a.goto(`/r/${Number(await last.text())}`);
    await hydrated(a);
    await expect(a.locator('.topic')).toHaveText(PAYLOADS[32]);
    expect(await a.title()).toContain('<title>');

    for (const page of [a, b]) {
      expect(await injected(page)).toEqual([]);
      expect(await xssFlag(page)).toBeUndefined();
    }
    expect(dialogs).toBe(0);
  } finally {
    await alice.close();
    await bob.close();
    await server.kill();
  }
});
