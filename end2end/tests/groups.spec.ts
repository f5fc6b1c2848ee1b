// Group conversations: opened from a list of names, live for every member, hidden from others.
import { test, expect } from './fixtures';
import { hydrated, messageLog, post, register, roomId, send, sidebarLink, uniqueName, startDm } from './helpers';

test('a group of three talks live; an outsider cannot see it exists', async ({ browser }) => {
  const contexts = await Promise.all([0, 1, 2, 3].map(() => browser.newContext()));
  const [a, b, c, d] = await Promise.all(contexts.map((ctx) => ctx.newPage()));
  const [alice, bob, carol, dave] = ['alice', 'bob', 'carol', 'dave'].map(uniqueName);
  for (const [page, name] of [[a, alice], [b, bob], [c, carol], [d, dave]] as const) {
    await register(page, name);
  }

  await startDm(a, `${carol}, @${bob}`);
  await expect(a.getByRole('heading', { level: 1, name: `${bob}, ${carol}` })).toBeVisible();
  await expect(a.getByText('3 members')).toBeVisible();
  const group = roomId(a);
  await post(a, 'who is in for friday?');

  // Bob and Carol had their pages open: the group appears in their sidebars, named by the
  // other two, without a reload.
  await sidebarLink(b, `${alice}, ${carol}`).click();
  await expect(messageLog(b).getByRole('article').filter({ hasText: 'who is in for friday?' })).toBeVisible();
  await sidebarLink(c, `${alice}, ${bob}`).click();
  await hydrated(c);
  await post(c, 'count me in');
  await expect(messageLog(a).getByRole('article').filter({ hasText: 'count me in' })).toBeVisible();
  await expect(messageLog(b).getByRole('article').filter({ hasText: 'count me in' })).toBeVisible();

  // Opening the same people again, in another order, leads to the same place.
  await startDm(b, `${carol} ${alice}`);
  await expect(b).toHaveURL(new RegExp(`/r/${group}$`));

  await d.goto(`/r/${group}`);
  await expect(d.getByRole('alert')).toContainText('does not exist');
  await expect(d.getByText('who is in for friday?')).toHaveCount(0);
  const direct = await d.request.post('/api/history', { form: { room_id: String(group) } });
  expect(direct.status()).toBe(404);

  // Ten people in all is one too many.
  await d.goto('/');
  await hydrated(d);
  const many = Array.from({ length: 9 }, (_, i) => `someone${i}`).join(', ');
  await startDm(d, many);
  await expect(d.getByRole('alert')).toContainText('at most 9 people');
  for (const ctx of contexts) await ctx.close();
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('a group is opened and used with plain forms', async ({ browser }) => {
    const contexts = await Promise.all([0, 1, 2].map(() => browser.newContext({ javaScriptEnabled: false })));
    const [a, b, c] = await Promise.all(contexts.map((ctx) => ctx.newPage()));
    const [alice, bob, carol] = ['alice', 'bob', 'carol'].map(uniqueName);
    for (const [page, name] of [[a, alice], [b, bob], [c, carol]] as const) {
      await register(page, name, { js: false });
    }
    await startDm(a, `${bob},${carol}`);
    await expect(a.getByRole('heading', { level: 1, name: `${bob}, ${carol}` })).toBeVisible();
    await send(a, 'plain forms for three');
    await expect(messageLog(a).getByRole('article').filter({ hasText: 'plain forms for three' })).toBeVisible();

    await c.reload();
    await sidebarLink(c, `${alice}, ${bob}`).click();
    await expect(messageLog(c).getByRole('article').filter({ hasText: 'plain forms for three' })).toBeVisible();
    await startDm(a, `${bob}, nobody-here-${Date.now()}`);
    await expect(a.getByRole('alert')).toContainText('no user named');
    for (const ctx of contexts) await ctx.close();
  });
});
