-- Trellis on PostgreSQL: roles, schemas and grants, run once per database by a superuser.
--
-- Idempotent: running it again re-asserts every attribute, password and grant (and rotates the
-- passwords to the values given). The database must exist; this script runs inside it:
--
--   createdb -O postgres trellis
--   psql -X -v ON_ERROR_STOP=1 -d trellis -f deploy/postgres/bootstrap.sql \
--     -v migrator_password=... -v identity_password=... -v work_password=... \
--     -v audit_password=... -v edge_password=...
--
-- What it sets up (docs/adr/0013-postgres-schemas-roles-rls.md):
-- - trellis_migrator: LOGIN, owns the context schemas and (through the migrations it runs)
--   every table in them; not a superuser, no BYPASSRLS, so FORCE ROW LEVEL SECURITY holds for
--   it too.
-- - trellis_identity, trellis_work, trellis_audit, trellis_edge: one LOGIN role per context,
--   owner of nothing, USAGE on its own schema only, DML on its tables and USAGE/SELECT on its
--   sequences through default privileges (so the migrations carry no GRANT lines), and
--   search_path set to its schema (the stores' SQL is unqualified).
-- - Schemas identity, work, audit, edge owned by trellis_migrator; nobody else may create in
--   them, and PUBLIC loses every right on schema public and on the database.
-- - The unaccent extension in schema work: the tasks' full-text search configuration removes
--   diacritics with it, as SQLite's FTS5 does with remove_diacritics 2.
--
-- Passwords travel as psql variables and are hashed by the server (password_encryption is
-- scram-sha-256 by default); the statement text may reach the server log when
-- log_statement = 'ddl' or 'all' is set, so turn that off while running this script.

\set ON_ERROR_STOP on

\if :{?migrator_password}
\else
  \warn 'bootstrap.sql: give -v migrator_password=...'
  \set trellis_missing_variable 1
\endif
\if :{?identity_password}
\else
  \warn 'bootstrap.sql: give -v identity_password=...'
  \set trellis_missing_variable 1
\endif
\if :{?work_password}
\else
  \warn 'bootstrap.sql: give -v work_password=...'
  \set trellis_missing_variable 1
\endif
\if :{?audit_password}
\else
  \warn 'bootstrap.sql: give -v audit_password=...'
  \set trellis_missing_variable 1
\endif
\if :{?edge_password}
\else
  \warn 'bootstrap.sql: give -v edge_password=...'
  \set trellis_missing_variable 1
\endif
\if :{?trellis_missing_variable}
  DO $$ BEGIN RAISE EXCEPTION 'bootstrap.sql: a password variable is missing'; END $$;
\endif

BEGIN;

-- Roles are cluster-wide: create the missing ones, then (re)assert every attribute.
SELECT format('CREATE ROLE %I', r)
  FROM unnest(ARRAY['trellis_migrator', 'trellis_identity', 'trellis_work', 'trellis_audit',
                    'trellis_edge']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r)
\gexec

ALTER ROLE trellis_migrator LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'migrator_password';
ALTER ROLE trellis_identity LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'identity_password';
ALTER ROLE trellis_work LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'work_password';
ALTER ROLE trellis_audit LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'audit_password';
ALTER ROLE trellis_edge LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'edge_password';

-- The store SQL is unqualified: each context role finds its own tables first.
ALTER ROLE trellis_identity SET search_path = identity;
ALTER ROLE trellis_work SET search_path = work;
ALTER ROLE trellis_audit SET search_path = audit;
ALTER ROLE trellis_edge SET search_path = edge;

-- The database: only Trellis' roles connect, nobody makes temporary tables.
SELECT current_database() AS trellis_db \gset
REVOKE ALL ON DATABASE :"trellis_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"trellis_db"
  TO trellis_migrator, trellis_identity, trellis_work, trellis_audit, trellis_edge;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

-- One schema per bounded context, owned by the migrator.
CREATE SCHEMA IF NOT EXISTS identity AUTHORIZATION trellis_migrator;
CREATE SCHEMA IF NOT EXISTS work AUTHORIZATION trellis_migrator;
CREATE SCHEMA IF NOT EXISTS audit AUTHORIZATION trellis_migrator;
CREATE SCHEMA IF NOT EXISTS edge AUTHORIZATION trellis_migrator;
ALTER SCHEMA identity OWNER TO trellis_migrator;
ALTER SCHEMA work OWNER TO trellis_migrator;
ALTER SCHEMA audit OWNER TO trellis_migrator;
ALTER SCHEMA edge OWNER TO trellis_migrator;
REVOKE ALL ON SCHEMA identity, work, audit, edge FROM PUBLIC;

-- Diacritic-insensitive search for work's tasks (V1__work.sql builds its text search
-- configuration on this dictionary). Creating an extension needs this superuser session.
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA work;

-- Each context role: its own schema, nothing else. Re-run safe: GRANT of a held right is a
-- no-op, and the revokes undo a grant made to the wrong role by hand.
GRANT USAGE ON SCHEMA identity TO trellis_identity;
GRANT USAGE ON SCHEMA work TO trellis_work;
GRANT USAGE ON SCHEMA audit TO trellis_audit;
GRANT USAGE ON SCHEMA edge TO trellis_edge;
REVOKE ALL ON SCHEMA identity FROM trellis_work, trellis_audit, trellis_edge;
REVOKE ALL ON SCHEMA work FROM trellis_identity, trellis_audit, trellis_edge;
REVOKE ALL ON SCHEMA audit FROM trellis_identity, trellis_work, trellis_edge;
REVOKE ALL ON SCHEMA edge FROM trellis_identity, trellis_work, trellis_audit;

-- Tables and sequences the migrator creates from now on: DML and sequence use for the context
-- role, so that migrations need no GRANT lines.
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA identity
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trellis_identity;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA identity
  GRANT USAGE, SELECT ON SEQUENCES TO trellis_identity;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA work
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trellis_work;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA work
  GRANT USAGE, SELECT ON SEQUENCES TO trellis_work;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA audit
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trellis_audit;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA audit
  GRANT USAGE, SELECT ON SEQUENCES TO trellis_audit;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA edge
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO trellis_edge;
ALTER DEFAULT PRIVILEGES FOR ROLE trellis_migrator IN SCHEMA edge
  GRANT USAGE, SELECT ON SEQUENCES TO trellis_edge;

-- Tables that already exist (a re-run after migrations): the same rights.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA identity TO trellis_identity;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA identity TO trellis_identity;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA work TO trellis_work;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA work TO trellis_work;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA audit TO trellis_audit;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA audit TO trellis_audit;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA edge TO trellis_edge;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA edge TO trellis_edge;

COMMIT;
