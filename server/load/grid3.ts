/**
 * The facility master list: GRID3 "NGA Health Facilities v2.0" CSV files (e.g. the Kano
 * subset), a synthetic list of the same shape, and replication for benchmarks.
 *
 * @module
 */

import { parse } from "csv-parse/sync";
import { mulberry32 } from "./random.ts";

/** One health facility, placed in the structure Nigeria > state > LGA > ward. */
export interface Facility {
  /** NHFR uid without the trailing ".0" (e.g. "21117361"), or the GRID3 globalid when empty. */
  facilityId: string;
  facilityName: string;
  /** Country, e.g. "Nigeria". */
  adminArea1: string;
  /** State, e.g. "Kano". */
  adminArea2: string;
  /** LGA, e.g. "Ungogo". */
  adminArea3: string;
  /** Ward, e.g. "Yadakunya" (names repeat across LGAs). */
  adminArea4: string;
  /** "Primary" | "Secondary" | "Tertiary" in GRID3. */
  facilityLevel: string;
  /** "Public" | "Private" | "Unknown" in GRID3. */
  ownership: string;
  /** e.g. "Local Government"; null when empty. */
  ownershipType: string | null;
  /** GRID3 facility_level_option, e.g. "Primary Health Center"; null when empty. */
  facilityType: string | null;
  /** WGS84 degrees; null when empty or not a number. */
  latitude: number | null;
  /** WGS84 degrees; null when empty or not a number. */
  longitude: number | null;
}

/** GRID3 columns a facilities file must have. */
export const GRID3_REQUIRED_COLUMNS: readonly string[] = [
  "globalid",
  "nhfr_uid",
  "country",
  "state",
  "lga",
  "ward",
  "facility_name",
  "ownership",
  "facility_level",
  "latitude",
  "longitude",
];

/** A facilities file is not a usable GRID3 CSV. */
export class Grid3FormatError extends Error {
  /** Stable error code. */
  readonly code = "GRID3_FORMAT" as const;
  /** The file that failed. */
  readonly file: string;

  /**
   * @param file Path of the file.
   * @param message What is wrong, naming the column or row.
   */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "Grid3FormatError";
    this.file = file;
  }
}

/**
 * Where the real Kano file lives next to the repository: `<repo>/../shared/data/…csv`.
 */
export const DEFAULT_GRID3_CSV: URL = new URL(
  "../shared/data/grid3_nga_health_facilities_v2_kano.csv",
  new URL("../../", import.meta.url),
);

/** Returns the path of {@linkcode DEFAULT_GRID3_CSV} when that file exists, else undefined. */
export async function findDefaultGrid3Csv(): Promise<string | undefined> {
  try {
    const info = await Deno.stat(DEFAULT_GRID3_CSV);
    return info.isFile ? DEFAULT_GRID3_CSV.pathname : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function parseCoordinate(text: string): number | null {
  if (text.trim() === "") return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

/**
 * Parses GRID3 CSV text (header row, comma-separated, quoted fields may contain commas).
 *
 * @param text CSV content.
 * @param file Name used in error messages.
 * @returns Facilities in file order.
 * @throws {Grid3FormatError} If a required column is missing, a row lacks its state, LGA, ward
 *   or name, or two rows share a facility id.
 */
export function parseGrid3Facilities(text: string, file = "<text>"): Facility[] {
  let records: Record<string, string>[];
  try {
    records = parse(text, {
      bom: true,
      skip_empty_lines: true,
      columns: (header: string[]) => {
        const names = header.map((h) => h.trim());
        const missing = GRID3_REQUIRED_COLUMNS.filter((c) => !names.includes(c));
        if (missing.length > 0) {
          throw new Grid3FormatError(
            file,
            `missing GRID3 column${missing.length > 1 ? "s" : ""} ${
              missing.map((c) => `'${c}'`).join(", ")
            } (found: ${names.join(", ")})`,
          );
        }
        return names;
      },
    }) as Record<string, string>[];
  } catch (error) {
    if (error instanceof Grid3FormatError) throw error;
    throw new Grid3FormatError(file, `not valid CSV: ${(error as Error).message}`);
  }
  const seen = new Map<string, number>();
  return records.map((r, i) => {
    const line = i + 2; // header is line 1
    const uid = (r.nhfr_uid ?? "").trim().replace(/\.0+$/, "");
    const facilityId = uid !== "" ? uid : (r.globalid ?? "").trim();
    for (const column of ["state", "lga", "ward", "facility_name"]) {
      if ((r[column] ?? "").trim() === "") {
        throw new Grid3FormatError(file, `row ${line} has an empty '${column}'`);
      }
    }
    if (facilityId === "") {
      throw new Grid3FormatError(file, `row ${line} has neither 'nhfr_uid' nor 'globalid'`);
    }
    const previous = seen.get(facilityId);
    if (previous !== undefined) {
      throw new Grid3FormatError(
        file,
        `rows ${previous} and ${line} share the facility id '${facilityId}'`,
      );
    }
    seen.set(facilityId, line);
    return {
      facilityId,
      facilityName: r.facility_name.trim(),
      adminArea1: (r.country ?? "").trim() || "Nigeria",
      adminArea2: r.state.trim(),
      adminArea3: r.lga.trim(),
      adminArea4: r.ward.trim(),
      facilityLevel: (r.facility_level ?? "").trim() || "Unknown",
      ownership: (r.ownership ?? "").trim() || "Unknown",
      ownershipType: (r.ownership_type ?? "").trim() || null,
      facilityType: (r.facility_level_option ?? "").trim() || null,
      latitude: parseCoordinate(r.latitude ?? ""),
      longitude: parseCoordinate(r.longitude ?? ""),
    };
  });
}

/**
 * Reads a GRID3 health-facilities CSV file.
 *
 * @param path File path.
 * @returns Facilities in file order (1,723 for the Kano file).
 * @throws {Grid3FormatError} If a required column is missing or a row is unusable (see
 *   {@linkcode parseGrid3Facilities}).
 * @throws {Deno.errors.NotFound} If the file does not exist.
 * @example Read the Kano file
 * ```ts
 * const facilities = await readGrid3Facilities("../shared/data/grid3_nga_health_facilities_v2_kano.csv");
 * ```
 */
export async function readGrid3Facilities(path: string): Promise<Facility[]> {
  return parseGrid3Facilities(await Deno.readTextFile(path), path);
}

const SYNTHETIC_LGAS = ["Birnin Gari", "Dala Kudu", "Kurmi Yamma", "Tudun Fari", "Gabasawa Sabo"];

/**
 * A deterministic synthetic facility list with the same shape as the GRID3 one: Nigeria > Kano >
 * 5 LGAs > 6 wards each; about 92% Primary, 7% Secondary, 1% Tertiary; 85% Public, 13%
 * Private, 2% Unknown. Ids are `SYN00001`, `SYN00002`, …
 *
 * @param count Number of facilities.
 * @param seed PRNG seed; the same seed gives the same list.
 * @throws {RangeError} If `count` is not a non-negative integer.
 */
export function syntheticFacilities(count: number, seed = 1): Facility[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`Cannot create synthetic facilities: 'count' (${count}) must be >= 0`);
  }
  const random = mulberry32(seed ^ 0x5eed);
  const facilities: Facility[] = [];
  for (let i = 0; i < count; i++) {
    const lga = SYNTHETIC_LGAS[Math.floor(random() * SYNTHETIC_LGAS.length)];
    const ward = `${lga.split(" ")[0]} Ward ${1 + Math.floor(random() * 6)}`;
    const u = random();
    const facilityLevel = u < 0.01 ? "Tertiary" : u < 0.08 ? "Secondary" : "Primary";
    const o = random();
    const ownership = o < 0.85 ? "Public" : o < 0.98 ? "Private" : "Unknown";
    const id = `SYN${String(i + 1).padStart(5, "0")}`;
    facilities.push({
      facilityId: id,
      facilityName: `${ward} ${facilityLevel === "Primary" ? "Health Clinic" : "Hospital"} ${
        i + 1
      }`,
      adminArea1: "Nigeria",
      adminArea2: "Kano",
      adminArea3: lga,
      adminArea4: ward,
      facilityLevel,
      ownership,
      ownershipType: ownership === "Public" ? "Local Government" : null,
      facilityType: facilityLevel === "Primary" ? "Primary Health Clinic" : "General Hospital",
      latitude: Number((11.5 + random()).toFixed(5)),
      longitude: Number((8 + random()).toFixed(5)),
    });
  }
  return facilities;
}

/**
 * Replicates a facility list `scale` times for Nigeria-sized benchmarks. Copy 1 is the list as
 * is; copy r (r >= 2) suffixes the facility id, state, LGA and ward with `-r<r>` / ` r<r>` so
 * every copy is a separate state with its own LGAs and wards.
 *
 * @param facilities The list to copy.
 * @param scale Number of copies (1 returns the list unchanged).
 * @throws {RangeError} If `scale` is not an integer >= 1.
 */
export function replicateFacilities(facilities: Facility[], scale: number): Facility[] {
  if (!Number.isInteger(scale) || scale < 1) {
    throw new RangeError(`Cannot replicate facilities: 'scale' (${scale}) must be an integer >= 1`);
  }
  if (scale === 1) return facilities;
  const out: Facility[] = [...facilities];
  for (let r = 2; r <= scale; r++) {
    for (const f of facilities) {
      out.push({
        ...f,
        facilityId: `${f.facilityId}-r${r}`,
        adminArea2: `${f.adminArea2} r${r}`,
        adminArea3: `${f.adminArea3} r${r}`,
        adminArea4: `${f.adminArea4} r${r}`,
      });
    }
  }
  return out;
}
