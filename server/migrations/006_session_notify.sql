-- Sessions pushed by the database: every change that can end or change a session sends a
-- NOTIFY on the channel `wb_sessions`, whoever makes it (a logout through any server process,
-- `wb user revoke`/`remove`, psql), so the servers' session caches (server/session_cache.ts,
-- fed by the version table's listener) drop the entry at once and a logged-in user's cached
-- hit needs no pool connection. Payloads are small JSON objects:
--
--   {"t": "sessions", "op": "DELETE" | "UPDATE", "session_hash": "<hex>"}
--   {"t": "users", "op": "UPDATE", "user_id": <id>}            (admin flag or e-mail changed)
--   {"t": "sessions" | "users", "op": "TRUNCATE"}               (the caches are emptied)
--
-- A deleted user's sessions go by ON DELETE CASCADE, whose deletes fire the sessions trigger.
-- A new session needs no message: a session not in a cache is looked up.

CREATE FUNCTION session_notify() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  BEGIN
    IF TG_OP = 'TRUNCATE' THEN
      PERFORM pg_notify('wb_sessions', jsonb_build_object('t', TG_TABLE_NAME, 'op', TG_OP)::text);
    ELSIF TG_TABLE_NAME = 'sessions' THEN
      PERFORM pg_notify('wb_sessions', jsonb_build_object(
        't', 'sessions', 'op', TG_OP, 'session_hash', OLD.session_hash)::text);
    ELSE
      PERFORM pg_notify('wb_sessions', jsonb_build_object(
        't', 'users', 'op', TG_OP, 'user_id', OLD.user_id)::text);
    END IF;
    RETURN NULL;
  END
  $$;

CREATE TRIGGER sessions_session_notify
  AFTER DELETE OR UPDATE ON sessions FOR EACH ROW
  EXECUTE FUNCTION session_notify();
CREATE TRIGGER users_session_notify
  AFTER UPDATE OF email, is_admin ON users FOR EACH ROW
  EXECUTE FUNCTION session_notify();
CREATE TRIGGER sessions_session_notify_truncate
  AFTER TRUNCATE ON sessions FOR EACH STATEMENT
  EXECUTE FUNCTION session_notify();
CREATE TRIGGER users_session_notify_truncate
  AFTER TRUNCATE ON users FOR EACH STATEMENT
  EXECUTE FUNCTION session_notify();
