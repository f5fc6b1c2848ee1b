// Every side panel of a room opened straight from its address (a shared link, a reload, a
// notification's click): the page hydrates and the panel works. What a panel loads is made
// where the server and the browser make it in the same order; one made inside the room's own
// data hydrated only by luck (about one load in five failed), so each is opened several times.
import { test, expect } from './fixtures';
import { aliceAndBob, createRoom, hydrated, post, uniqueName } from './helpers';

test('each side panel opened straight from its address hydrates, every time', async ({ browser }) => {
  test.setTimeout(120_000);
  const { alice, bob, a, b, bobName } = await aliceAndBob(browser);
  const room = await createRoom(a, uniqueName('panels'));
  await post(a, 'pin and thread me');
  expect((await b.request.post('/api/join_room', { form: { room_id: String(room) } })).status()).toBe(200);
  expect((await a.request.post('/api/pin', { form: { room_id: String(room), seq: '1' } })).status()).toBe(200);
  const panels: [string, (page: typeof a) => Promise<void>][] = [
    ['?pins', async (p) => {
      const pins = p.getByRole('complementary', { name: 'Pinned messages' });
      await expect(pins.getByRole('listitem')).toContainText('pin and thread me');
    }],
    ['?settings', async (p) => {
      const settings = p.getByRole('complementary', { name: 'Room settings' });
      await expect(settings.getByText('No one is banned.')).toBeVisible();
    }],
    [`?profile=${bobName}`, async (p) => {
      const card = p.getByRole('complementary', { name: `Profile of ${bobName}` });
      await expect(card.getByRole('heading', { name: bobName })).toBeVisible();
    }],
    ['?members', async (p) => {
      await expect(p.getByRole('complementary', { name: 'Members' }).getByText(bobName)).toBeVisible();
    }],
    ['?thread=1', async (p) => {
      await expect(p.getByRole('complementary', { name: 'Thread' })).toContainText('pin and thread me');
    }],
  ];
  for (const [query, works] of panels) {
    for (let i = 0; i < 4; i++) {
      await a.goto(`/r/${room}${query}`);
      await hydrated(a);
      await works(a);
    }
  }
  await alice.close();
  await bob.close();
});
