-- Helpers and the facility structure: Nigeria (1) > state (2) > LGA (3) > ward (4) > facility.
-- Admin areas are keyed by their full path of names (ward names repeat across LGAs).

-- Versions and timestamps are returned as ISO-8601 UTC text with microseconds.
CREATE FUNCTION iso_ts(t timestamptz) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$;

-- Adds n (may be negative) months to a YYYYMM period id: period_add_months(202501, -1) = 202412.
CREATE FUNCTION period_add_months(p int, n int) RETURNS int
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT ((p / 100 * 12 + p % 100 - 1 + n) / 12) * 100 + (p / 100 * 12 + p % 100 - 1 + n) % 12 + 1 $$;

CREATE TABLE admin_areas_1 (
  admin_area_1 text PRIMARY KEY
);

CREATE TABLE admin_areas_2 (
  admin_area_1 text NOT NULL REFERENCES admin_areas_1,
  admin_area_2 text NOT NULL,
  PRIMARY KEY (admin_area_1, admin_area_2)
);

CREATE TABLE admin_areas_3 (
  admin_area_1 text NOT NULL,
  admin_area_2 text NOT NULL,
  admin_area_3 text NOT NULL,
  PRIMARY KEY (admin_area_1, admin_area_2, admin_area_3),
  FOREIGN KEY (admin_area_1, admin_area_2) REFERENCES admin_areas_2
);

CREATE TABLE admin_areas_4 (
  admin_area_1 text NOT NULL,
  admin_area_2 text NOT NULL,
  admin_area_3 text NOT NULL,
  admin_area_4 text NOT NULL,
  PRIMARY KEY (admin_area_1, admin_area_2, admin_area_3, admin_area_4),
  FOREIGN KEY (admin_area_1, admin_area_2, admin_area_3) REFERENCES admin_areas_3
);

CREATE TABLE facilities (
  facility_id text PRIMARY KEY,
  facility_name text NOT NULL,
  admin_area_1 text NOT NULL,
  admin_area_2 text NOT NULL,
  admin_area_3 text NOT NULL,
  admin_area_4 text NOT NULL,
  facility_level text NOT NULL,   -- Primary | Secondary | Tertiary
  ownership text NOT NULL,        -- Public | Private | Unknown
  ownership_type text,            -- e.g. Local Government, State Government
  facility_type text,             -- GRID3 facility_level_option, e.g. Primary Health Center
  latitude double precision,      -- WGS84 degrees
  longitude double precision,     -- WGS84 degrees
  FOREIGN KEY (admin_area_1, admin_area_2, admin_area_3, admin_area_4) REFERENCES admin_areas_4
);

CREATE INDEX facilities_admin_area_3_idx ON facilities (admin_area_3, admin_area_4);

-- One row: the structure's version (bumped by every import) and when it was imported.
CREATE TABLE structure_meta (
  id boolean PRIMARY KEY DEFAULT true CHECK (id),
  version int NOT NULL,
  last_imported timestamptz NOT NULL
);
