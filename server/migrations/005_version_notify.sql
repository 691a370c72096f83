-- Versions pushed by the database: every change to a row the cached routes take a version
-- from (or join through to find one) sends a NOTIFY on the channel `wb_versions`, whoever
-- writes it (the server, the loader, psql). The server's version table (server/version_table.ts)
-- applies them in commit order; payloads are small JSON objects:
--
--   {"t": "<table>", "op": "INSERT" | "UPDATE" | "DELETE", "old": {...} | null, "new": {...} | null}
--   {"t": "<table>", "op": "TRUNCATE"}                      (the listener reloads everything)
--
-- `old`/`new` hold only the key and version columns of the row (never a config or label), with
-- `last_updated`/`last_run` as iso_ts() text, so a payload stays far below NOTIFY's 8000 bytes.
--
-- | table                | columns sent                                  | version of               |
-- | -------------------- | --------------------------------------------- | ------------------------ |
-- | presentation_objects | po_id, project_id, metric_id, last_updated    | po_detail                |
-- | metrics              | metric_id, project_id, results_object_id      | (join to the module)     |
-- | results_objects      | results_object_id, project_id, module_id      | (join to the module)     |
-- | modules              | project_id, module_id, last_run               | po_items, metric_info, replicant_opts |
-- | dataset_versions     | dataset_id, version                           | ds_hmis, ds_hfa          |
-- | structure_meta       | id, version                                   | structure                |

-- The key and version columns of a row (`cols`), timestamps as iso_ts() text.
CREATE FUNCTION version_notify_row(r jsonb, cols text[]) RETURNS jsonb
  LANGUAGE sql STABLE
  AS $$
    SELECT jsonb_object_agg(key, CASE
             WHEN key IN ('last_updated', 'last_run') AND jsonb_typeof(value) = 'string'
               THEN to_jsonb(iso_ts((value #>> '{}')::timestamptz))
             ELSE value
           END)
      FROM jsonb_each(r)
     WHERE key = ANY(cols)
  $$;

-- Row trigger: TG_ARGV lists the columns to send.
CREATE FUNCTION version_notify() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  BEGIN
    PERFORM pg_notify('wb_versions', jsonb_build_object(
      't', TG_TABLE_NAME,
      'op', TG_OP,
      'old', CASE WHEN TG_OP <> 'INSERT' THEN version_notify_row(to_jsonb(OLD), TG_ARGV) END,
      'new', CASE WHEN TG_OP <> 'DELETE' THEN version_notify_row(to_jsonb(NEW), TG_ARGV) END
    )::text);
    RETURN NULL;
  END
  $$;

-- Statement trigger for TRUNCATE (no rows to name: the listener reloads).
CREATE FUNCTION version_notify_truncate() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
  BEGIN
    PERFORM pg_notify('wb_versions', jsonb_build_object('t', TG_TABLE_NAME, 'op', 'TRUNCATE')::text);
    RETURN NULL;
  END
  $$;

CREATE TRIGGER presentation_objects_version_notify
  AFTER INSERT OR DELETE OR UPDATE OF po_id, project_id, metric_id, last_updated
  ON presentation_objects FOR EACH ROW
  EXECUTE FUNCTION version_notify('po_id', 'project_id', 'metric_id', 'last_updated');

CREATE TRIGGER metrics_version_notify
  AFTER INSERT OR DELETE OR UPDATE OF metric_id, project_id, results_object_id
  ON metrics FOR EACH ROW
  EXECUTE FUNCTION version_notify('metric_id', 'project_id', 'results_object_id');

CREATE TRIGGER results_objects_version_notify
  AFTER INSERT OR DELETE OR UPDATE OF results_object_id, project_id, module_id
  ON results_objects FOR EACH ROW
  EXECUTE FUNCTION version_notify('results_object_id', 'project_id', 'module_id');

CREATE TRIGGER modules_version_notify
  AFTER INSERT OR DELETE OR UPDATE OF project_id, module_id, last_run
  ON modules FOR EACH ROW
  EXECUTE FUNCTION version_notify('project_id', 'module_id', 'last_run');

CREATE TRIGGER dataset_versions_version_notify
  AFTER INSERT OR DELETE OR UPDATE
  ON dataset_versions FOR EACH ROW
  EXECUTE FUNCTION version_notify('dataset_id', 'version');

CREATE TRIGGER structure_meta_version_notify
  AFTER INSERT OR DELETE OR UPDATE
  ON structure_meta FOR EACH ROW
  EXECUTE FUNCTION version_notify('id', 'version');

CREATE TRIGGER presentation_objects_version_notify_truncate
  AFTER TRUNCATE ON presentation_objects FOR EACH STATEMENT
  EXECUTE FUNCTION version_notify_truncate();
CREATE TRIGGER metrics_version_notify_truncate
  AFTER TRUNCATE ON metrics FOR EACH STATEMENT
  EXECUTE FUNCTION version_notify_truncate();
CREATE TRIGGER results_objects_version_notify_truncate
  AFTER TRUNCATE ON results_objects FOR EACH STATEMENT
  EXECUTE FUNCTION version_notify_truncate();
CREATE TRIGGER modules_version_notify_truncate
  AFTER TRUNCATE ON modules FOR EACH STATEMENT
  EXECUTE FUNCTION version_notify_truncate();
CREATE TRIGGER dataset_versions_version_notify_truncate
  AFTER TRUNCATE ON dataset_versions FOR EACH STATEMENT
  EXECUTE FUNCTION version_notify_truncate();
CREATE TRIGGER structure_meta_version_notify_truncate
  AFTER TRUNCATE ON structure_meta FOR EACH STATEMENT
  EXECUTE FUNCTION version_notify_truncate();
