/**
 * The fetch configuration of a presentation object (`config.fetch`): which values to aggregate,
 * how to group and filter them. Validated against allowlists, then turned into one
 * parameterized SQL query over `results_hmis`.
 *
 * @module
 */

import { ValidationError } from "./errors.ts";
import { storableText } from "./text.ts";
import type * as wire from "../wire.ts";

/** Numeric columns of the results that can be aggregated. `outlier` is 0/1. */
export const VALUE_PROPS = ["count", "count_adjusted", "outlier"] as const;
/** A numeric results column. */
export type ValueProp = typeof VALUE_PROPS[number];

/** Aggregate functions. */
export const AGG_FUNCS = ["SUM", "AVG", "COUNT", "MIN", "MAX"] as const;
/** An aggregate function. */
export type AggFunc = typeof AGG_FUNCS[number];

/**
 * Columns to group or filter by. `facility_level` and `ownership` come from `facilities`
 * (joined); the others are columns of the results.
 */
export const DISAGGREGATION_COLUMNS = [
  "admin_area_2",
  "admin_area_3",
  "admin_area_4",
  "facility_id",
  "indicator_id",
  "period_id",
  "facility_level",
  "ownership",
] as const;
/** A column to group or filter by. */
export type DisaggregationColumn = typeof DISAGGREGATION_COLUMNS[number];

/** Most rows a presentation object may return; one more means "too many items". */
export const MAX_ITEMS = 20000;
/** Most values in one filter. */
export const MAX_FILTER_VALUES = 1000;
/** Most months in a `last_n_months` period filter. */
export const MAX_LAST_N_MONTHS = 600;

/** One aggregated value; the item key is `prop` (the wire shape, narrowed to the known names). */
export type FetchValue = wire.FetchValue<ValueProp, AggFunc>;

/** Keep rows whose `col` is one of `vals` (strings, or YYYYMM integers for `period_id`). */
export interface FetchFilter {
  col: DisaggregationColumn;
  vals: (string | number)[];
}

/**
 * Period restriction. `last_n_months` counts back from the latest period in the results (not
 * the wall clock), so results are reproducible; `between` is inclusive (YYYYMM).
 */
export type PeriodFilter =
  | { kind: "last_n_months"; n: number }
  | { kind: "between"; min: number; max: number };

/** A validated fetch configuration. */
export interface FetchConfig {
  /** 1 to 6 values, each prop at most once. */
  values: FetchValue[];
  /** 0 to 4 columns, each at most once. */
  groupBys: DisaggregationColumn[];
  /** Filters, combined with AND. */
  filters: FetchFilter[];
  periodFilter?: PeriodFilter;
}

/** An SQL statement with its `$n` parameters. */
export interface SqlQuery {
  text: string;
  params: unknown[];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) return String(value);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

function checkKeys(obj: Record<string, unknown>, allowed: string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      const field = path ? `${path}.${key}` : key;
      throw new ValidationError(
        `Unknown field '${field}' (allowed: ${allowed.join(", ")})`,
        field,
      );
    }
  }
}

function oneOf<T extends string>(value: unknown, allowed: readonly T[], field: string): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ValidationError(
      `'${field}' must be one of ${allowed.join(", ")} (got ${describe(value)})`,
      field,
    );
  }
  return value as T;
}

/** Whether `value` is a YYYYMM period id (year 1900-2200, month 1-12). */
export function isPeriodId(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 190001 &&
    value <= 220012 && value % 100 >= 1 && value % 100 <= 12;
}

function periodId(value: unknown, field: string): number {
  const n = typeof value === "string" && /^\d{6}$/.test(value) ? Number(value) : value;
  if (!isPeriodId(n)) {
    throw new ValidationError(`'${field}' must be a YYYYMM period (got ${describe(value)})`, field);
  }
  return n;
}

function arrayField(value: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(value)) {
    throw new ValidationError(`'${field}' must be an array (got ${describe(value)})`, field);
  }
  if (value.length > max) {
    throw new ValidationError(`'${field}' has ${value.length} entries, at most ${max}`, field);
  }
  return value;
}

/**
 * Validates an untrusted fetch configuration (`config.fetch` of a presentation object).
 * Unknown fields are rejected. Filter values for text columns may be strings (without NUL
 * characters or unpaired surrogates) or integers (integers become strings); for `period_id`
 * YYYYMM integers or six-digit strings.
 *
 * @param input Parsed JSON.
 * @returns A normalized copy.
 * @throws {ValidationError} Naming the first bad field, e.g. `'values[0].func' must be one of
 *   SUM, AVG, COUNT, MIN, MAX (got "DROP")`.
 * @example Group ANC1 by LGA over the last year
 * ```ts
 * const config = parseFetchConfig({
 *   values: [{ prop: "count", func: "SUM" }],
 *   groupBys: ["admin_area_3"],
 *   filters: [{ col: "indicator_id", vals: ["anc1"] }],
 *   periodFilter: { kind: "last_n_months", n: 12 },
 * });
 * ```
 */
export function parseFetchConfig(input: unknown): FetchConfig {
  if (!isPlainObject(input)) {
    throw new ValidationError(`The fetch config must be an object (got ${describe(input)})`);
  }
  checkKeys(input, ["values", "groupBys", "filters", "periodFilter"], "");

  const values: FetchValue[] = arrayField(input.values, "values", 6).map((v, i) => {
    const field = `values[${i}]`;
    if (!isPlainObject(v)) {
      throw new ValidationError(`'${field}' must be an object {prop, func}`, field);
    }
    checkKeys(v, ["prop", "func"], field);
    return {
      prop: oneOf(v.prop, VALUE_PROPS, `${field}.prop`),
      func: oneOf(v.func, AGG_FUNCS, `${field}.func`),
    };
  });
  if (values.length === 0) throw new ValidationError("'values' must not be empty", "values");
  values.forEach((v, i) => {
    if (values.findIndex((w) => w.prop === v.prop) !== i) {
      throw new ValidationError(`'values[${i}].prop' repeats '${v.prop}'`, `values[${i}].prop`);
    }
  });

  const groupBys = arrayField(input.groupBys ?? [], "groupBys", 4).map((g, i) =>
    oneOf(g, DISAGGREGATION_COLUMNS, `groupBys[${i}]`)
  );
  groupBys.forEach((g, i) => {
    if (groupBys.indexOf(g) !== i) {
      throw new ValidationError(`'groupBys[${i}]' repeats '${g}'`, `groupBys[${i}]`);
    }
  });

  const filters: FetchFilter[] = arrayField(input.filters ?? [], "filters", 10).map((f, i) => {
    const field = `filters[${i}]`;
    if (!isPlainObject(f)) {
      throw new ValidationError(`'${field}' must be an object {col, vals}`, field);
    }
    checkKeys(f, ["col", "vals"], field);
    const col = oneOf(f.col, DISAGGREGATION_COLUMNS, `${field}.col`);
    const rawVals = arrayField(f.vals, `${field}.vals`, MAX_FILTER_VALUES);
    if (rawVals.length === 0) {
      throw new ValidationError(`'${field}.vals' must not be empty`, `${field}.vals`);
    }
    const vals = rawVals.map((v, j) => {
      const vField = `${field}.vals[${j}]`;
      if (col === "period_id") return periodId(v, vField);
      if (typeof v === "number" && Number.isSafeInteger(v)) return String(v);
      if (typeof v !== "string" || v.length > 200) {
        throw new ValidationError(
          `'${vField}' must be a string of at most 200 characters or an integer (got ${
            describe(v)
          })`,
          vField,
        );
      }
      return storableText(v, vField);
    });
    return { col, vals };
  });

  const config: FetchConfig = { values, groupBys, filters };
  const pf = input.periodFilter;
  if (pf !== undefined && pf !== null) {
    if (!isPlainObject(pf)) {
      throw new ValidationError("'periodFilter' must be an object", "periodFilter");
    }
    const kind = oneOf(pf.kind, ["last_n_months", "between"], "periodFilter.kind");
    if (kind === "last_n_months") {
      checkKeys(pf, ["kind", "n"], "periodFilter");
      if (!Number.isInteger(pf.n) || (pf.n as number) < 1 || (pf.n as number) > MAX_LAST_N_MONTHS) {
        throw new ValidationError(
          `'periodFilter.n' must be an integer from 1 to ${MAX_LAST_N_MONTHS} (got ${
            describe(pf.n)
          })`,
          "periodFilter.n",
        );
      }
      config.periodFilter = { kind, n: pf.n as number };
    } else {
      checkKeys(pf, ["kind", "min", "max"], "periodFilter");
      const min = periodId(pf.min, "periodFilter.min");
      const max = periodId(pf.max, "periodFilter.max");
      if (min > max) {
        throw new ValidationError(
          `'periodFilter.min' (${min}) must not be after 'periodFilter.max' (${max})`,
          "periodFilter.min",
        );
      }
      config.periodFilter = { kind, min, max };
    }
  }
  return config;
}

/** SQL expression of each allowlisted column (`r` = results_hmis, `f` = facilities). */
const COLUMN_SQL: Record<DisaggregationColumn, string> = {
  admin_area_2: "r.admin_area_2",
  admin_area_3: "r.admin_area_3",
  admin_area_4: "r.admin_area_4",
  facility_id: "r.facility_id",
  indicator_id: "r.indicator_id",
  period_id: "r.period_id",
  facility_level: "f.facility_level",
  ownership: "f.ownership",
};

const FACILITY_COLUMNS: ReadonlySet<DisaggregationColumn> = new Set([
  "facility_level",
  "ownership",
]);

const AGG_SQL: Record<AggFunc, (column: string) => string> = {
  SUM: (c) => `sum(${c})::float8`,
  AVG: (c) => `avg(${c})::float8`,
  COUNT: (c) => `count(${c})::int`,
  MIN: (c) => `min(${c})`,
  MAX: (c) => `max(${c})`,
};

/**
 * The columns a query groups by: `groupBys`, with `admin_area_3` added before `admin_area_4`
 * when only the ward was asked for (ward names repeat across LGAs).
 */
export function effectiveGroupBys(config: FetchConfig): DisaggregationColumn[] {
  const cols = [...config.groupBys];
  const ward = cols.indexOf("admin_area_4");
  if (ward >= 0 && !cols.includes("admin_area_3")) cols.splice(ward, 0, "admin_area_3");
  return cols;
}

/**
 * Builds the items query of a presentation object. Identifiers come only from the allowlists;
 * every user value (results object id, filter values, period bounds) is a `$n` parameter.
 * Items are ordered by the group columns; `LIMIT MAX_ITEMS + 1` detects "too many items".
 * Grouping by `admin_area_4` also groups by `admin_area_3` (see {@linkcode effectiveGroupBys}).
 *
 * @param resultsObjectId The results object to read.
 * @param config A config returned by {@linkcode parseFetchConfig}.
 * @returns `{ text, params }` for `Db.query`; rows have one key per group column (strings, or
 *   numbers for `period_id`) and one per value prop (numbers).
 */
export function buildItemsQuery(resultsObjectId: string, config: FetchConfig): SqlQuery {
  const params: unknown[] = [resultsObjectId];
  const param = (value: unknown, type: "text" | "int"): string => {
    params.push(value);
    return `$${params.length}::${type}`;
  };
  const groupBys = effectiveGroupBys(config);
  const usesFacility = [...groupBys, ...config.filters.map((f) => f.col)].some((c) =>
    FACILITY_COLUMNS.has(c)
  );

  const select = [
    ...groupBys.map((c) => `${COLUMN_SQL[c]} AS "${c}"`),
    ...config.values.map((v) => `${AGG_SQL[v.func](`r.${v.prop}`)} AS "${v.prop}"`),
  ];
  const where = ["r.results_object_id = $1"];
  for (const filter of config.filters) {
    const type = filter.col === "period_id" ? "int" : "text";
    const list = filter.vals.map((v) => param(v, type)).join(", ");
    where.push(`${COLUMN_SQL[filter.col]} IN (${list})`);
  }
  const pf = config.periodFilter;
  if (pf?.kind === "between") {
    where.push(`r.period_id BETWEEN ${param(pf.min, "int")} AND ${param(pf.max, "int")}`);
  } else if (pf?.kind === "last_n_months") {
    where.push(
      "r.period_id >= period_add_months((SELECT max(m.period_id) FROM results_hmis m " +
        `WHERE m.results_object_id = $1), 1 - ${param(pf.n, "int")})`,
    );
  }

  const positions = groupBys.map((_, i) => String(i + 1)).join(", ");
  const lines = [
    `SELECT ${select.join(", ")}`,
    "FROM results_hmis r",
    ...(usesFacility ? ["JOIN facilities f ON f.facility_id = r.facility_id"] : []),
    `WHERE ${where.join("\n  AND ")}`,
    ...(groupBys.length > 0
      ? [`GROUP BY ${positions}`, `ORDER BY ${positions}`]
      : ["HAVING count(*) > 0"]),
    `LIMIT ${MAX_ITEMS + 1}`,
  ];
  return { text: lines.join("\n"), params };
}
