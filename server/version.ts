/** The server's release version, reported by `/healthz` and `/api/instance_meta`. */
export const SERVER_VERSION = "0.1.0";

/**
 * The layout version of cached values. Bump it when a cached body changes shape; the
 * stored entries of older layouts then stop matching (it is part of every version hash).
 */
export const CACHE_FORMAT_VERSION = 1;
