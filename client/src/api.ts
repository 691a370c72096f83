/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The HTTP API as the client uses it: same-origin requests (the session cookie goes along),
 * JSON bodies, and the server's `{ error, message }` turned into an {@linkcode ApiError}.
 * Writes send `Content-Type: application/json` (a request no other origin can send without
 * a CORS preflight, which this server never grants).
 *
 * @module
 */

/** A response that was not OK. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

/** A JSON body and the response's headers. */
export interface ApiResponse<T> {
  body: T;
  headers: Headers;
}

async function request<T>(path: string, init: RequestInit): Promise<ApiResponse<T>> {
  const response = await fetch(path, {
    credentials: "same-origin",
    ...init,
    headers: { accept: "application/json", ...init.headers },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(
      response.status,
      (body as { message?: string }).message ?? `${response.status} ${response.statusText}`,
    );
  }
  return { body: body as T, headers: response.headers };
}

/** `GET path`. @throws {ApiError} For a status other than 2xx. */
export function apiGet<T>(path: string): Promise<ApiResponse<T>> {
  return request<T>(path, { method: "GET" });
}

/** `POST path` with a JSON body. @throws {ApiError} For a status other than 2xx. */
export async function apiPost<T>(path: string, body: unknown = {}): Promise<T> {
  return (await request<T>(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  })).body;
}

export type { InstanceMeta, Me } from "../../server/wire.ts";

/** A URL path segment. */
export const seg = (text: string): string => encodeURIComponent(text);
