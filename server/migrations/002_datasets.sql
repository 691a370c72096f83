-- Indicators and the two datasets (HMIS monthly counts, HFA facility assessment).
-- The bulk tables have no foreign keys on purpose: the loader guarantees referential
-- integrity and per-row FK triggers would dominate a million-row COPY.

CREATE TABLE indicators (
  indicator_id text PRIMARY KEY,
  label text NOT NULL,
  category text NOT NULL,          -- maternal | child | general
  sort_order int NOT NULL
);

CREATE TABLE dataset_hmis (
  facility_id text NOT NULL,
  indicator_id text NOT NULL,
  period_id int NOT NULL,          -- YYYYMM
  count int NOT NULL CHECK (count >= 0),
  PRIMARY KEY (facility_id, indicator_id, period_id)
);

CREATE INDEX dataset_hmis_indicator_period_idx ON dataset_hmis (indicator_id, period_id);

CREATE TABLE dataset_hfa (
  facility_id text NOT NULL,
  time_point text NOT NULL,        -- e.g. 2023-Q2
  var_name text NOT NULL,
  value double precision,
  PRIMARY KEY (facility_id, time_point, var_name)
);

CREATE INDEX dataset_hfa_var_idx ON dataset_hfa (var_name, time_point);

CREATE TABLE dataset_versions (
  dataset_id text PRIMARY KEY CHECK (dataset_id IN ('hmis', 'hfa')),
  version int NOT NULL,
  last_imported timestamptz NOT NULL
);
