// The rooms of the admin console, as an instance's admin uses them: a room is found in the
// list, archived (its member's open page shows it at once), then deleted after its name is
// typed, and the member's open page says it was deleted while the room leaves their sidebar.
// Both actions are in the audit log.
import { test, expect } from './fixtures';
import { createRoom, hydrated, messageLog, openAccountMenu, post, register, sidebarLink, uniqueName } from './helpers';
import { OwnServer } from './servers';

test('an admin archives and then deletes a room from the console: its member sees each at once', async ({ browser }) => {
  const server = await OwnServer.start();
  const admin = await browser.newContext({ baseURL: server.url });
  const member = await browser.newContext({ baseURL: server.url });
  try {
    const a = await admin.newPage();
    const boss = uniqueName('boss');
    await register(a, boss); // the first account of an instance is its admin
    const b = await member.newPage();
    await register(b, uniqueName('host'));
    const room = uniqueName('club');
    await createRoom(b, room);
    await hydrated(b);
    await post(b, 'see you at the club');
    await expect(messageLog(b)).toHaveAttribute('data-live', 'open');

    await a.reload();
    await hydrated(a);
    await (await openAccountMenu(a)).getByRole('link', { name: 'Administration' }).click();
    const console = a.getByRole('region', { name: 'Administration' });
    await console.getByRole('searchbox', { name: 'Search rooms' }).fill(room);
    await console.getByRole('button', { name: 'Search rooms' }).click();
    const row = console.getByRole('region', { name: 'Room list' }).getByRole('row').filter({ hasText: room });
    await expect(row).toHaveCount(1);
    await expect(row.getByRole('cell').nth(0)).toHaveText('1'); // members
    await expect(row.getByRole('cell').nth(3)).toHaveText('Active');

    // Archived: the member's page shows it without a reload, and the room leaves the sidebar.
    await row.getByRole('button', { name: `Archive ${room}` }).click();
    await expect(console.getByRole('status')).toHaveText(`Room ${room} archived.`);
    await expect(row.getByRole('cell').nth(3)).toHaveText('Archived');
    await expect(b.locator('.room-header').getByText('Archived')).toBeVisible();
    await expect(b.getByRole('textbox', { name: 'Message', exact: true })).toHaveCount(0);

    // Deleting asks for the room's name; then the member's page says what happened.
    await row.getByRole('button', { name: `Unarchive ${room}` }).waitFor();
    await row.locator(`summary[aria-label="Delete ${room}…"]`).click();
    await row.getByLabel('Type the room’s name to delete it with all its messages').fill(room);
    await row.getByRole('button', { name: `Delete ${room} for good` }).click();
    await expect(console.getByRole('status')).toHaveText(`Room ${room} deleted with its history.`);
    await expect(console.getByRole('region', { name: 'Room list' }).getByRole('row').filter({ hasText: room })).toHaveCount(0);
    await expect(b.getByRole('status').filter({ hasText: `This room was deleted by ${boss}.` })).toBeVisible();
    await expect(sidebarLink(b, room)).toHaveCount(0);
    const gone = await b.reload();
    expect(gone?.status()).toBe(404);

    const audit = console.getByRole('region', { name: 'Audit log lines' });
    await expect(audit.getByRole('row').filter({ hasText: 'room_deleted' })).toContainText(room);
    await expect(audit.getByRole('row').filter({ hasText: 'room_archived' })).toContainText(room);
  } finally {
    await admin.close();
    await member.close();
    await server.kill();
  }
});
