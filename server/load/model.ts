/**
 * Deterministic models of the data that is not public: monthly HMIS service counts per facility
 * and a small health-facility assessment (HFA), both seeded, on top of the real facility list.
 *
 * @module
 */

import type { Facility } from "./grid3.ts";
import { hashString, mulberry32, normal } from "./random.ts";

/** A standard HMIS indicator and how the model generates it. */
export interface IndicatorDef {
  /** e.g. "anc1". */
  indicatorId: string;
  /** Human label. */
  label: string;
  /** "maternal" | "child" | "general". */
  category: string;
  /** Mean monthly count at an average public primary facility. */
  baseMonthly: number;
  /** Seasonal amplitude (fraction of the mean) and peak month (1-12). */
  season: { amplitude: number; peakMonth: number };
  /** Whether every primary facility offers it (deliveries are not offered by health posts). */
  allPrimary: boolean;
}

/** The twelve indicators loaded into `indicators`, in display order. */
export const INDICATORS: readonly IndicatorDef[] = [
  ind("anc1", "ANC first visit", "maternal", 38, 0.05, 8, true),
  ind("anc4", "ANC fourth visit", "maternal", 17, 0.05, 8, true),
  ind("ipt2", "IPTp 2nd dose (malaria in pregnancy)", "maternal", 21, 0.12, 9, true),
  ind("sba", "Skilled birth attendance", "maternal", 12, 0.06, 10, false),
  ind("delivery_facility", "Deliveries in facility", "maternal", 15, 0.06, 10, false),
  ind("pnc1", "Postnatal care within 48 hours", "maternal", 11, 0.05, 10, false),
  ind("bcg", "BCG vaccination", "child", 28, 0.08, 3, true),
  ind("penta1", "Pentavalent 1st dose", "child", 30, 0.08, 3, true),
  ind("penta3", "Pentavalent 3rd dose", "child", 24, 0.08, 4, true),
  ind("measles1", "Measles 1st dose", "child", 20, 0.08, 4, true),
  ind("fp_new", "Family planning new acceptors", "general", 9, 0.04, 1, true),
  ind("opd_total", "Outpatient attendance (total)", "general", 380, 0.25, 9, true),
];

function ind(
  indicatorId: string,
  label: string,
  category: string,
  baseMonthly: number,
  amplitude: number,
  peakMonth: number,
  allPrimary: boolean,
): IndicatorDef {
  return {
    indicatorId,
    label,
    category,
    baseMonthly,
    season: { amplitude, peakMonth },
    allPrimary,
  };
}

/** Volume multiplier by facility level (Tertiary >> Secondary >> Primary). */
const LEVEL_FACTOR: Record<string, number> = { Primary: 1, Secondary: 5, Tertiary: 22 };
/** Volume multiplier by ownership. */
const OWNERSHIP_FACTOR: Record<string, number> = { Public: 1, Private: 0.55, Unknown: 0.7 };

/** One modelled HMIS value. */
export interface HmisRow {
  facilityId: string;
  indicatorId: string;
  /** YYYYMM. */
  periodId: number;
  /** Reported count (>= 0). */
  count: number;
}

/** Options of {@linkcode modelHmis}. */
export interface ModelHmisOptions {
  /** PRNG seed; the same seed and facilities give the same rows. */
  seed: number;
  /** Number of months. @default {60} */
  months?: number;
  /** Last period (YYYYMM). Fixed so results are reproducible. @default {202512} */
  endPeriod?: number;
}

/** Default last period of the model. */
export const DEFAULT_END_PERIOD = 202512;
/** Default number of modelled months. */
export const DEFAULT_MONTHS = 60;

/**
 * The `months` periods (YYYYMM) ending at `endPeriod`, ascending.
 *
 * @throws {RangeError} If `endPeriod` is not a valid YYYYMM or `months` < 1.
 */
export function periodsEndingAt(endPeriod: number, months: number): number[] {
  const month = endPeriod % 100;
  if (!Number.isInteger(endPeriod) || month < 1 || month > 12 || endPeriod < 100001) {
    throw new RangeError(`Cannot list periods: 'endPeriod' (${endPeriod}) must be YYYYMM`);
  }
  if (!Number.isInteger(months) || months < 1) {
    throw new RangeError(`Cannot list periods: 'months' (${months}) must be an integer >= 1`);
  }
  const end = Math.floor(endPeriod / 100) * 12 + month - 1;
  const periods: number[] = [];
  for (let i = end - months + 1; i <= end; i++) {
    periods.push(Math.floor(i / 12) * 100 + (i % 12) + 1);
  }
  return periods;
}

/**
 * Models monthly counts for every facility and indicator, lazily (about 1.1 M rows for the 1,723
 * Kano facilities over 60 months). Each facility has its own PRNG stream (seeded from `seed` and
 * its id), so a facility's rows do not depend on the other facilities.
 *
 * The model: volume = indicator base × level factor (Primary 1, Secondary 5, Tertiary 22) ×
 * ownership factor (Public 1, Private 0.55, Unknown 0.7) × a log-normal facility size, with
 * seasonality, a 3%/year trend and Poisson-like noise. Reporting is incomplete: each facility
 * reports a month with its own probability (private facilities less), 10% start late, and single
 * values are missing now and then. About 0.5% of values are data-entry outliers (×4–10).
 * Primary facilities without delivery services (about 30%) have no delivery, SBA or PNC rows.
 *
 * Rows come facility by facility, then indicator, then period.
 *
 * @throws {RangeError} If `months` or `endPeriod` is invalid.
 */
export function* modelHmis(
  facilities: Iterable<Facility>,
  options: ModelHmisOptions,
): Generator<HmisRow> {
  const periods = periodsEndingAt(
    options.endPeriod ?? DEFAULT_END_PERIOD,
    options.months ?? DEFAULT_MONTHS,
  );
  const endIndex = periods.length - 1;
  for (const facility of facilities) {
    const random = mulberry32(hashString(`hmis:${options.seed}:${facility.facilityId}`));
    const size = (LEVEL_FACTOR[facility.facilityLevel] ?? 1) *
      (OWNERSHIP_FACTOR[facility.ownership] ?? 0.7) *
      Math.exp(0.45 * normal(random));
    const privateCut = facility.ownership === "Public" ? 0 : 0.12;
    const reportingRate = Math.max(0.35, 0.98 - 0.35 * random() ** 2 - privateCut);
    const startIndex = random() < 0.1 ? Math.floor(random() * periods.length * 0.4) : 0;
    const offersDelivery = facility.facilityLevel !== "Primary" || random() < 0.7;
    const reported = periods.map((_, i) => i >= startIndex && random() < reportingRate);
    for (const indicator of INDICATORS) {
      if (!indicator.allPrimary && !offersDelivery) continue;
      const { amplitude, peakMonth } = indicator.season;
      for (let i = 0; i < periods.length; i++) {
        // Draw every value even when unreported so one decision does not shift the others.
        const gap = random();
        const noise = normal(random);
        const spike = random();
        const spikeSize = random();
        if (!reported[i] || gap < 0.03) continue;
        const periodId = periods[i];
        const month = periodId % 100;
        const seasonal = 1 + amplitude * Math.cos((2 * Math.PI * (month - peakMonth)) / 12);
        const trend = 1 - 0.03 * ((endIndex - i) / 12);
        const mean = indicator.baseMonthly * size * seasonal * trend;
        let count = Math.max(0, Math.round(mean + Math.sqrt(mean) * noise));
        if (spike < 0.005) count = count * (4 + Math.floor(spikeSize * 7)) + 10;
        yield {
          facilityId: facility.facilityId,
          indicatorId: indicator.indicatorId,
          periodId,
          count,
        };
      }
    }
  }
}

/** One modelled HFA value. */
export interface HfaRow {
  facilityId: string;
  /** e.g. "2023-Q2". */
  timePoint: string;
  varName: string;
  value: number;
}

/** The two assessment rounds of the HFA model. */
export const HFA_TIME_POINTS: readonly string[] = ["2023-Q2", "2025-Q2"];

/** HFA variables: counts (beds, staff), 0/1 flags, and percentages (0-100). */
export const HFA_VARS: readonly string[] = [
  "beds",
  "staff_total",
  "has_electricity",
  "has_improved_water",
  "tracer_medicines_pct",
  "readiness_score",
];

/** Options of {@linkcode modelHfa}. */
export interface ModelHfaOptions {
  /** PRNG seed. */
  seed: number;
  /** Share of primary facilities assessed (all secondary and tertiary ones are). @default {0.25} */
  sampleFraction?: number;
}

/**
 * Models a health-facility assessment: {@linkcode HFA_VARS} at the two
 * {@linkcode HFA_TIME_POINTS} for a deterministic sample of facilities (about 30% of Kano,
 * ~6 k rows). Services improve a little between rounds.
 */
export function* modelHfa(
  facilities: Iterable<Facility>,
  options: ModelHfaOptions,
): Generator<HfaRow> {
  const fraction = options.sampleFraction ?? 0.25;
  for (const facility of facilities) {
    const random = mulberry32(hashString(`hfa:${options.seed}:${facility.facilityId}`));
    if (facility.facilityLevel === "Primary" && random() >= fraction) continue;
    const level = LEVEL_FACTOR[facility.facilityLevel] ?? 1;
    const beds = Math.round(level * (2 + 8 * random()) * (level > 1 ? 4 : 1));
    const staff = Math.round(level * (4 + 10 * random()) * (level > 1 ? 2 : 1));
    let electricity = random() < 0.45 + 0.1 * Math.log(level + 1) ? 1 : 0;
    let water = random() < 0.55 ? 1 : 0;
    let medicines = Math.min(100, Math.round(35 + 40 * random() + 3 * level));
    for (const timePoint of HFA_TIME_POINTS) {
      const readiness = Math.round(
        0.3 * medicines + 25 * electricity + 20 * water + Math.min(25, staff / 2),
      );
      const values: Record<string, number> = {
        beds,
        staff_total: staff,
        has_electricity: electricity,
        has_improved_water: water,
        tracer_medicines_pct: medicines,
        readiness_score: Math.min(100, readiness),
      };
      for (const varName of HFA_VARS) {
        yield { facilityId: facility.facilityId, timePoint, varName, value: values[varName] };
      }
      if (!electricity && random() < 0.25) electricity = 1;
      if (!water && random() < 0.2) water = 1;
      medicines = Math.min(100, medicines + Math.round(10 * random() - 2));
    }
  }
}
