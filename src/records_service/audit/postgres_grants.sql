-- Privileges for the role records-service runs as on PostgreSQL.
--
-- Two roles: an owner that owns the schema and applies migrations
-- (`records-service init` connects as it), and the service role, called
-- records_app here, that `records-service serve` connects as. The service role
-- owns nothing, so it cannot drop the append-only triggers or alter a table,
-- and below it gets only SELECT and INSERT on the audit log. Even with the
-- triggers gone, it cannot change or remove an audit entry.
--
-- Run this as the owner, in the service's database, after every migration
-- (new tables need their grants). Replace records_app with your role's name.

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO records_app;

-- Ordinary tables: the service reads and writes them.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO records_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO records_app;

-- The audit log: read and append, nothing else.
REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER
    ON audit_entries, audit_nodes, audit_checkpoints FROM records_app;
GRANT SELECT, INSERT ON audit_entries, audit_nodes, audit_checkpoints TO records_app;

-- The append counter: its one row is updated under a row lock by every append.
REVOKE INSERT, DELETE, TRUNCATE ON audit_head FROM records_app;
GRANT SELECT, UPDATE ON audit_head TO records_app;

-- Only the owner migrates; the service only reads the schema version.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON alembic_version FROM records_app;
GRANT SELECT ON alembic_version TO records_app;
