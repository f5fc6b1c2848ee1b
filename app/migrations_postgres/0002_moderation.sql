-- Moderation: an admin can disable an account. A disabled account cannot log in and its
-- sessions stop working; its messages and memberships stay. NULL means enabled.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
