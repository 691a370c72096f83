-- Projects, their modules, module output (results) and what is shown (metrics, presentation
-- objects).

CREATE TABLE projects (
  project_id text PRIMARY KEY,
  label text NOT NULL
);

CREATE TABLE modules (
  project_id text NOT NULL REFERENCES projects ON DELETE CASCADE,
  module_id text NOT NULL,
  label text NOT NULL,
  params jsonb NOT NULL DEFAULT '{}',   -- e.g. {"outlierMultiplier": 3, "outlierMinCount": 10}
  last_run timestamptz,                 -- NULL until the module has run
  PRIMARY KEY (project_id, module_id)
);

CREATE TABLE results_objects (
  results_object_id text PRIMARY KEY,
  project_id text NOT NULL,
  module_id text NOT NULL,
  label text NOT NULL,
  FOREIGN KEY (project_id, module_id) REFERENCES modules ON DELETE CASCADE
);

CREATE INDEX results_objects_module_idx ON results_objects (project_id, module_id);

-- Module output, one row per facility, indicator and month. Admin areas are copied from the
-- facility so the common disaggregations need no join; facility_level and ownership are joined.
-- Partitioned by results object: runModule builds a new partition without indexes, indexes it
-- in bulk and swaps it in (see the results_hmis_*_ddl functions), which is several times faster than
-- DELETE + INSERT into indexed tables and leaves no dead rows. No foreign keys (bulk table).
CREATE TABLE results_hmis (
  results_object_id text NOT NULL,
  facility_id text NOT NULL,
  admin_area_2 text NOT NULL,
  admin_area_3 text NOT NULL,
  admin_area_4 text NOT NULL,
  indicator_id text NOT NULL,
  period_id int NOT NULL,           -- YYYYMM
  count int NOT NULL,               -- reported count
  count_adjusted int NOT NULL,      -- count, outliers replaced by the facility-indicator median
  outlier int NOT NULL CHECK (outlier IN (0, 1)),
  PRIMARY KEY (results_object_id, facility_id, indicator_id, period_id)
) PARTITION BY LIST (results_object_id);

-- Keep these in step with results_hmis_index_ddl below (ATTACH reuses matching indexes).
CREATE INDEX results_hmis_indicator_period_idx ON results_hmis (indicator_id, period_id);
CREATE INDEX results_hmis_period_idx ON results_hmis (period_id);
CREATE INDEX results_hmis_area_idx ON results_hmis (admin_area_3, admin_area_4);

-- Which table holds each results object's rows (no FK: the table outlives a deleted results
-- object until the next runModule or load drops it).
CREATE TABLE results_partitions (
  results_object_id text PRIMARY KEY,
  table_name text NOT NULL UNIQUE
);

CREATE SEQUENCE results_partition_seq;

-- DDL for a new partition table `tbl`: empty, unindexed, not yet attached.
CREATE FUNCTION results_hmis_create_ddl(tbl text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT format('CREATE TABLE %I (LIKE results_hmis INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', tbl) $$;

-- DDL run after the rows are in: the constraint lets ATTACH skip its validation scan, the
-- indexes match the parent's so ATTACH adopts them.
CREATE FUNCTION results_hmis_index_ddl(tbl text, ro text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT format(
    'ALTER TABLE %1$I ADD CONSTRAINT %2$I CHECK (results_object_id = %3$L);
     ALTER TABLE %1$I ADD PRIMARY KEY (results_object_id, facility_id, indicator_id, period_id);
     CREATE INDEX ON %1$I (indicator_id, period_id);
     CREATE INDEX ON %1$I (period_id);
     CREATE INDEX ON %1$I (admin_area_3, admin_area_4);',
    tbl, tbl || '_ro_check', ro) $$;

CREATE FUNCTION results_hmis_attach_ddl(tbl text, ro text) RETURNS text
  LANGUAGE sql IMMUTABLE
  AS $$ SELECT format('ALTER TABLE results_hmis ATTACH PARTITION %I FOR VALUES IN (%L)', tbl, ro) $$;

CREATE TABLE metrics (
  metric_id text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects ON DELETE CASCADE,
  results_object_id text NOT NULL REFERENCES results_objects ON DELETE CASCADE,
  label text NOT NULL,
  value_props jsonb NOT NULL,               -- e.g. ["count", "count_adjusted"]
  disaggregation_options jsonb NOT NULL     -- e.g. ["admin_area_3", "indicator_id", "period_id"]
);

CREATE INDEX metrics_project_idx ON metrics (project_id);

CREATE TABLE presentation_objects (
  po_id text PRIMARY KEY,
  project_id text NOT NULL REFERENCES projects ON DELETE CASCADE,
  metric_id text NOT NULL REFERENCES metrics ON DELETE CASCADE,
  label text NOT NULL,
  config jsonb NOT NULL,                    -- {"fetch": FetchConfig, "display": {...}}
  last_updated timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX presentation_objects_project_idx ON presentation_objects (project_id);
