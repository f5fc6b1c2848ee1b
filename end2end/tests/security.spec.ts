// What the browser itself enforces for us: the page's Content-Security-Policy lets our own
// (nonce-carrying) scripts hydrate and blocks an injected handler; no other site may frame
// Confab; and a guesser at someone's password is stopped while the owner still gets in.
import { test, expect } from './fixtures';
import { aliceAndBob, createRoom, hydrated, logIn, messageLog, openGeneral, post, register, sidebarLink, uniqueName, PASSWORD, logOut, accountButton, openAccountMenu, openMembers, openMenu } from './helpers';
import { OwnServer } from './servers';

test('the page policy lets the app hydrate, carries its nonce, and blocks an injected handler', async ({ page, csp }) => {
  const response = await page.goto('/');
  await hydrated(page);
  const headers = response?.headers() ?? {};
  const policy = headers['content-security-policy'] ?? '';
  const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
  expect(nonce, policy).toBeTruthy();
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("object-src 'none'");
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('DENY');
  expect(headers['referrer-policy']).toBe('same-origin');
  // Every inline script of the page carries this response's nonce (the browser hides the value
  // from the attribute once parsed, but the property keeps it).
  const scripts = await page.locator('script:not([src])').evaluateAll((els) =>
    els.map((el) => (el as HTMLScriptElement).nonce),
  );
  expect(scripts.length).toBeGreaterThan(0);
  expect(new Set(scripts)).toEqual(new Set([nonce]));
  // A second load gets a fresh nonce.
  const again = (await page.reload())?.headers()['content-security-policy'] ?? '';
  expect(/'nonce-([^']+)'/.exec(again)?.[1]).not.toBe(nonce);
  await hydrated(page);

  // Markup that slipped into the page by some bug still runs nothing.
  await page.evaluate(() => {
    document.body.insertAdjacentHTML(
      'beforeend',
      '<img id="bait" src="/no-such-image" onerror="document.body.dataset.pwned = \'yes\'">' +
        '<a id="link" href="javascript:document.body.dataset.pwned=\'link\'">x</a>',
    );
  });
  await page.locator('#link').click();
  await expect.poll(() => csp.violations.length).toBeGreaterThanOrEqual(2);
  expect(await page.locator('body').getAttribute('data-pwned')).toBeNull();
  expect(csp.violations.join('\n')).toContain('script-src');
  // Those were the point of this test; anything else would still fail it.
  csp.violations.length = 0;
});

test('another site cannot frame Confab', async ({ page, baseURL, csp }) => {
  await page.setContent(`<iframe id="frame" src="${baseURL}/"></iframe>`);
  await expect.poll(() => csp.violations.some((v) => v.includes('frame-ancestors'))).toBe(true);
  const frame = page.frameLocator('#frame');
  await expect(frame.getByRole('region', { name: 'Log in' })).toHaveCount(0);
  csp.violations.length = 0;
});

test('a guesser is stopped at the account limit and the owner, on a known device, still gets in', async ({ browser }) => {
  const server = await OwnServer.start({ env: { CONFAB_LOGIN_RATE_PER_ACCOUNT: '3/15min' } });
  const owner = await browser.newContext({ baseURL: server.url });
  const guesser = await browser.newContext({ baseURL: server.url });
  try {
    const o = await owner.newPage();
    const name = uniqueName('victim');
    await register(o, name);
    await logOut(o);
    await expect(o.getByRole('region', { name: 'Log in' })).toBeVisible();

    const g = await guesser.newPage();
    await g.goto('/');
    await hydrated(g);
    const alert = g.getByRole('region', { name: 'Log in' }).getByRole('alert');
    for (let i = 0; i < 3; i++) {
      await logIn(g, name, `guess number ${i}`);
      await expect(alert).toHaveText('Wrong username or password.');
      // The same text again would not show a change; clear it by reloading.
      await g.reload();
      await hydrated(g);
    }
    await logIn(g, name, PASSWORD);
    await expect(alert).toContainText('Too many login attempts on this account from new devices.');
    await expect(alert).toContainText(/Try again in \d+ (seconds?|minutes?)/);
    await expect(accountButton(g)).toHaveCount(0);

    // The owner's browser logged in to this account before: it is not held to that budget.
    await hydrated(o);
    await logIn(o, name, PASSWORD);
    await expect(accountButton(o)).toBeVisible();
  } finally {
    await owner.close();
    await guesser.close();
    await server.kill();
  }
});

test('a burst over the per-user post budget waits in the outbox and arrives whole and in order', async ({ browser }) => {
  const server = await OwnServer.start({ env: { CONFAB_POST_RATE_PER_USER: '3/5s' } });
  const context = await browser.newContext({ baseURL: server.url });
  try {
    const page = await context.newPage();
    await register(page, uniqueName('fast'));
    await openGeneral(page);
    const box = page.getByRole('textbox', { name: 'Message', exact: true });
    const texts = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'];
    for (const text of texts) {
      await box.fill(text);
      await box.press('Enter');
    }
    // The server refuses what is over the budget; the tab keeps it pending and resends later.
    await expect(messageLog(page).locator('article[data-pending]').first()).toBeVisible();
    const confirmed = messageLog(page).locator('article:not([data-pending]) .body');
    await expect.poll(() => confirmed.allTextContents(), { timeout: 30_000 }).toEqual(texts);
    await page.reload();
    await hydrated(page);
    await expect.poll(() => confirmed.allTextContents()).toEqual(texts);
  } finally {
    await context.close();
    await server.kill();
  }
});

test('"Log out everywhere" sends every open tab of the account back to the login screen', async ({ browser }) => {
  const name = uniqueName('lost');
  const laptop = await browser.newContext();
  const phone = await browser.newContext();
  try {
    const l = await laptop.newPage();
    await register(l, name);
    await openGeneral(l);
    const p = await phone.newPage();
    await p.goto('/');
    await hydrated(p);
    await logIn(p, name);
    await expect(accountButton(p)).toBeVisible();

    await (await openAccountMenu(p)).getByRole('button', { name: 'Log out everywhere' }).click();
    await expect(p.getByRole('region', { name: 'Log in' })).toBeVisible();
    // The laptop did nothing: its live connection was closed for it, and it shows the login.
    await expect(l.getByRole('region', { name: 'Log in' })).toBeVisible();
    await expect(accountButton(l)).toHaveCount(0);
    await l.reload();
    await expect(l.getByRole('region', { name: 'Log in' })).toBeVisible();
  } finally {
    await laptop.close();
    await phone.close();
  }
});

test('an admin disables an account from the administration page: its tab is logged out and it cannot log in until enabled', async ({ browser }) => {
  const server = await OwnServer.start();
  const admin = await browser.newContext({ baseURL: server.url });
  const member = await browser.newContext({ baseURL: server.url });
  try {
    const a = await admin.newPage();
    await register(a, uniqueName('boss')); // the first account of an instance is its admin
    const b = await member.newPage();
    const name = uniqueName('troll');
    await register(b, name);
    await openGeneral(b);
    // Only admins see the tools: no way in from the account menu, and a page that refuses.
    await expect((await openAccountMenu(b)).getByRole('link', { name: 'Notifications' })).toBeVisible();
    await expect((await openAccountMenu(b)).getByRole('link', { name: 'Administration' })).toHaveCount(0);
    // To anyone but an admin, the console does not exist.
    const refused = await b.goto('/admin');
    expect(refused?.status()).toBe(404);
    await expect(b.getByRole('heading', { name: 'Page not found' })).toBeVisible();
    await expect(b.getByRole('region', { name: 'Administration' })).toHaveCount(0);
    await openGeneral(b);

    await a.reload();
    await hydrated(a);
    await (await openAccountMenu(a)).getByRole('link', { name: 'Administration' }).click();
    const tools = a.getByRole('region', { name: 'Administration' });
    await tools.getByLabel('Moderate an account').fill(name);
    await tools.getByLabel('Action').selectOption('disable');
    await tools.getByRole('button', { name: 'Apply' }).click();
    await expect(tools.getByRole('status')).toHaveText(`${name} is disabled: logged out everywhere and cannot log in.`);
    // The account list says so, and the audit log has the action.
    const row = tools.getByRole('region', { name: 'Account list' }).getByRole('row').filter({ hasText: name });
    await expect(row.getByRole('cell', { name: 'Disabled' })).toBeVisible();
    await expect(row.getByRole('button', { name: `Enable ${name}` })).toBeVisible();
    const audit = tools.getByRole('region', { name: 'Audit log lines' });
    await expect(audit.getByRole('row').filter({ hasText: name })).toContainText('disable');

    await expect(b.getByRole('region', { name: 'Log in' })).toBeVisible();
    await logIn(b, name, PASSWORD);
    await expect(b.getByRole('region', { name: 'Log in' }).getByRole('alert')).toHaveText(
      'This account has been disabled by an admin.',
    );

    await tools.getByLabel('Action').selectOption('enable');
    await tools.getByRole('button', { name: 'Apply' }).click();
    await expect(tools.getByRole('status')).toHaveText(`${name} can log in again.`);
    await b.reload();
    await hydrated(b);
    await logIn(b, name, PASSWORD);
    await expect(accountButton(b)).toBeVisible();
  } finally {
    await admin.close();
    await member.close();
    await server.kill();
  }
});

test("a room's creator removes a member: the member's open page says so and the room leaves their sidebar", async ({ browser }) => {
  const { alice, bob, a, b, aliceName, bobName } = await aliceAndBob(browser);
  const room = uniqueName('club');
  const id = await createRoom(a, room);
  await hydrated(a);
  await b.goto(`/r/${id}`);
  await hydrated(b);
  await b.getByRole('button', { name: 'Join room' }).click();
  await expect(messageLog(b)).toHaveAttribute('data-live', 'open');
  await expect(sidebarLink(b, room)).toBeVisible();
  // Only the creator (or an admin) may remove: in Bob's members panel, Alice's menu offers a
  // direct message, not a removal.
  const bobsPanel = await openMembers(b);
  const alicesMenu = await openMenu(bobsPanel, `Actions for ${aliceName}`);
  await expect(alicesMenu.getByRole('button', { name: 'Send a direct message' })).toBeVisible();
  await expect(alicesMenu.getByRole('button', { name: 'Remove from room' })).toHaveCount(0);
  await expect(bobsPanel.locator(`summary[aria-label="Actions for ${bobName}"]`)).toHaveCount(0);

  await a.reload();
  await hydrated(a);
  await post(a, 'before the removal');
  await expect(messageLog(b).getByText('before the removal')).toBeVisible();
  const alicesPanel = await openMembers(a);
  await expect(alicesPanel.getByRole('heading', { name: '2 members' })).toBeVisible();
  const bobsMenu = await openMenu(alicesPanel, `Actions for ${bobName}`);
  await bobsMenu.getByRole('button', { name: 'Remove from room' }).click();
  await expect(alicesPanel.getByText(bobName)).toHaveCount(0);
  await expect(alicesPanel.getByRole('heading', { name: '1 member' })).toBeVisible();

  await expect(b.getByRole('status').filter({ hasText: 'You were removed from this room by' })).toBeVisible();
  await expect(b.getByRole('button', { name: 'Join room' })).toBeVisible();
  await expect(sidebarLink(b, room)).toHaveCount(0);
  await alice.close();
  await bob.close();
});

test('an admin limits registration to invites: an invite link lets one person in, and closed means closed', async ({ browser }) => {
  const server = await OwnServer.start();
  const admin = await browser.newContext({ baseURL: server.url });
  const guest = await browser.newContext({ baseURL: server.url });
  try {
    const a = await admin.newPage();
    await register(a, uniqueName('boss'));
    await (await openAccountMenu(a)).getByRole('link', { name: 'Administration' }).click();
    const tools = a.getByRole('region', { name: 'Administration' });
    await tools.getByLabel('Who can register').selectOption('invite');
    await tools.getByRole('button', { name: 'Save' }).click();
    await expect(tools.getByRole('status').filter({ hasText: 'Only people with an invite can register.' })).toBeVisible();
    // The setting is stored: a reload (server-rendered, then hydrated) shows it selected.
    await a.reload();
    await hydrated(a);
    await expect(tools.getByLabel('Who can register')).toHaveValue('invite');
    await tools.getByRole('button', { name: 'Create invite link' }).click();
    const link = tools.locator('a.invite-link');
    await expect(link).toBeVisible();
    const href = (await link.getAttribute('href')) ?? '';
    expect(href).toMatch(/^\/\?invite=[A-Za-z0-9_-]{40,}$/);

    // Without the link: the form asks for an invite and the server refuses a made-up one.
    const g = await guest.newPage();
    await g.goto('/');
    await hydrated(g);
    const form = g.getByRole('region', { name: 'Register' });
    await expect(form.getByLabel('Invite code')).toHaveValue('');
    await form.getByLabel('Username').fill(uniqueName('guest'));
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByLabel('Invite code').fill('made-up');
    await form.getByRole('button', { name: 'Register' }).click();
    await expect(form.getByRole('alert')).toContainText('This invite is not valid');

    // With it: the code is filled in, and it works once.
    await g.goto(href);
    await hydrated(g);
    await expect(form.getByLabel('Invite code')).toHaveValue(href.split('=')[1]);
    await form.getByLabel('Username').fill(uniqueName('guest'));
    await form.getByLabel('Password').fill(PASSWORD);
    await form.getByRole('button', { name: 'Register' }).click();
    await expect(accountButton(g)).toBeVisible();

    // An invite for five, listed with its uses; revoked, it lets no one in.
    await tools.getByLabel('People it admits').selectOption('5');
    await tools.getByLabel('Lasts').selectOption('1');
    await tools.getByRole('button', { name: 'Create invite link' }).click();
    const invites = a.getByRole('region', { name: 'Invites' });
    const five = invites.getByRole('listitem').filter({ hasText: '0 of 5 used' });
    await expect(five).toContainText('Open');
    const fiveHref = (await tools.locator('a.invite-link').getAttribute('href')) ?? '';
    expect(fiveHref).not.toBe(href);
    await five.getByRole('button', { name: /^Revoke invite / }).click();
    await expect(invites.getByRole('status')).toContainText('The invite is revoked');
    await expect(invites.getByRole('listitem').filter({ hasText: '0 of 5 used' })).toContainText('Revoked');
    const other = await browser.newContext({ baseURL: server.url });
    const o = await other.newPage();
    await o.goto(fiveHref);
    await hydrated(o);
    const refused = o.getByRole('region', { name: 'Register' });
    await refused.getByLabel('Username').fill(uniqueName('guest'));
    await refused.getByLabel('Password').fill(PASSWORD);
    await refused.getByRole('button', { name: 'Register' }).click();
    await expect(refused.getByRole('alert')).toContainText('This invite is not valid');
    await other.close();

    await tools.getByLabel('Who can register').selectOption('closed');
    await tools.getByRole('button', { name: 'Save' }).click();
    await expect(tools.getByRole('status').filter({ hasText: 'Registration is closed.' })).toBeVisible();
    const late = await browser.newContext({ baseURL: server.url });
    const l = await late.newPage();
    await l.goto(href);
    await expect(l.getByRole('region', { name: 'Register' })).toContainText('Registration is closed on this instance');
    await expect(l.getByRole('region', { name: 'Register' }).getByRole('button')).toHaveCount(0);
    await late.close();
  } finally {
    await admin.close();
    await guest.close();
    await server.kill();
  }
});
