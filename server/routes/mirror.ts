/**
 * `POST /api/cache/invalidate`: an explicit invalidation, from an administrator (admin
 * bearer token) or from another instance mirroring its own (a signed JWT, see
 * `server/events/mirror.ts`).
 *
 * Body: `{ entity, id?, projectId?, eventId?, mirror? }`. `entity` is an entity type of the
 * graph, singular or plural.
 *
 * | caller       | `eventId`             | forwarded to `CACHE_MIRRORS`          |
 * | ------------ | --------------------- | ------------------------------------- |
 * | admin        | optional (generated)  | unless `mirror: false`                |
 * | signed peer  | required              | never (must say `mirror: false`)      |
 *
 * Answers `200 { applied: true, eventId, seq, affected }`; an `eventId` this instance
 * already applied (within 10 min) answers `200 { applied: false, duplicate: true }`. A bad
 * signature, an old or replayed token, or a body that does not match its signature is a
 * 401; every refusal is in the cache event log with its reason.
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { type RedisStore, SeenSet } from "../../lib/mod.ts";
import { bearerToken, tokenMatches } from "../auth.ts";
import {
  looksLikeJwt,
  MIRROR_WINDOW_S,
  MirrorAuthError,
  type ServerEvents,
  verifyMirrorRequest,
} from "../events/mod.ts";

/** What the mirror route needs. */
export interface MirrorRoutesDeps {
  events: ServerEvents;
  /** The instance's Redis, where the seen token and event ids are shared. */
  store: RedisStore;
  adminToken?: string;
  /** `MIRROR_SECRET`; unset refuses signed requests. */
  mirrorSecret?: string;
}

/** How long an applied `eventId` is remembered, in seconds. */
export const APPLIED_EVENT_TTL_S = 600;

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const EVENT_ID = /^[A-Za-z0-9_-]{8,64}$/;

/** Routes under `/api`: `POST /cache/invalidate`. */
export function mirrorRoutes(
  { events, store, adminToken, mirrorSecret }: MirrorRoutesDeps,
): Hono {
  // Shared by the instance's processes through its Redis: a token or an event seen by
  // one process is seen by all.
  const seenTokens = new SeenSet("wb:mirror:jti", { store, ttlS: 2 * MIRROR_WINDOW_S + 10 });
  const appliedEvents = new SeenSet("wb:mirror:event", { store, ttlS: APPLIED_EVENT_TTL_S });
  const app = new Hono();

  app.post("/cache/invalidate", async (c) => {
    const text = await c.req.text();
    const token = bearerToken(c);
    if (!token) {
      c.header("WWW-Authenticate", 'Bearer realm="wb"');
      throw new HTTPException(401, {
        message: "An admin token or a signed mirror token is required",
      });
    }
    let peer: string | undefined;
    if (!tokenMatches(token, adminToken)) {
      if (!looksLikeJwt(token)) {
        throw new HTTPException(403, { message: "The admin token is not valid" });
      }
      if (!mirrorSecret) {
        events.log.warn({ event: "mirror_rejected", reason: "MIRROR_SECRET is not set here" });
        throw new HTTPException(401, {
          message: "Mirror credential refused: this instance has no MIRROR_SECRET",
        });
      }
      try {
        peer = (await verifyMirrorRequest(token, text, mirrorSecret, seenTokens)).issuer;
      } catch (error) {
        if (!(error instanceof MirrorAuthError)) throw error;
        events.log.warn({ event: "mirror_rejected", reason: error.reason });
        throw new HTTPException(401, { message: error.message });
      }
    }

    const body = parseBody(text);
    const entity = events.graph.resolve(String(body.entity ?? ""));
    if (!entity) {
      throw new HTTPException(400, {
        message: `'entity' must be one of: ${events.graph.names.join(", ")}`,
      });
    }
    const id = optionalId(body, "id");
    const projectId = optionalId(body, "projectId");
    if (body.mirror !== undefined && typeof body.mirror !== "boolean") {
      throw new HTTPException(400, { message: "'mirror' must be a boolean" });
    }
    if (peer !== undefined && body.mirror !== false) {
      throw new HTTPException(400, { message: "A mirrored invalidation must say 'mirror: false'" });
    }
    if (
      body.eventId !== undefined &&
      (typeof body.eventId !== "string" || !EVENT_ID.test(body.eventId))
    ) {
      throw new HTTPException(400, {
        message: "'eventId' must be 8-64 letters, digits, '_' or '-'",
      });
    }
    if (peer !== undefined && body.eventId === undefined) {
      throw new HTTPException(400, { message: "A mirrored invalidation needs its 'eventId'" });
    }
    const eventId = (body.eventId as string | undefined) ?? crypto.randomUUID();

    if (!(await appliedEvents.add(eventId))) {
      events.log.info({
        event: "mirror_duplicate",
        eventId,
        entity,
        id,
        from: peer ?? "admin",
        reason: "this event was applied already; not applied again",
      });
      return c.json({ applied: false, duplicate: true, eventId });
    }
    try {
      const event = await events.invalidate(entity, id, {
        projectId,
        eventId,
        origin: peer === undefined ? undefined : `mirror:${peer}`,
        reason: peer === undefined ? "admin" : `mirror from ${peer}`,
        mirror: peer === undefined && body.mirror !== false,
      });
      if (peer !== undefined) {
        events.log.info({
          event: "mirror_received",
          eventId,
          entity,
          id,
          from: peer,
          seq: event.seq,
          reason: "applied; not forwarded (mirror: false)",
        });
      }
      return c.json({
        applied: true,
        eventId,
        seq: event.seq,
        affected: event.affected,
      });
    } catch (error) {
      await appliedEvents.delete(eventId);
      throw error;
    }
  });

  return app;
}

function parseBody(text: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HTTPException(400, { message: "The request body must be valid JSON" });
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HTTPException(400, { message: "The request body must be a JSON object" });
  }
  return body as Record<string, unknown>;
}

function optionalId(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || !ID.test(value)) {
    throw new HTTPException(400, {
      message: `'${name}' must be 1-64 letters, digits, '_' or '-'`,
    });
  }
  return value;
}
