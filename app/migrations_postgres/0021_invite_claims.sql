-- An invite to claim an account: made by an admin for one account that has no password (a
-- person brought in by an importer or a restore without credentials). Registering with it under
-- that account's username sets its password instead of creating an account, so the person
-- finds their history. Deleting the account deletes its claim invites.
ALTER TABLE invites ADD COLUMN for_user BIGINT REFERENCES users(id) ON DELETE CASCADE;
