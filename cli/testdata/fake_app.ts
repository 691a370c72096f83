/**
 * A stand-in for `server/main.ts` in CLI tests: answers `/healthz` (with `instance`,
 * `version`, `postgres` and `redis`; `ok: false` when Postgres' socket does not accept a
 * connection), stores and reads Redis keys over raw RESP (logging in with the password of
 * REDIS_URL, as node-redis does; `redis://` or `unix://`), serves the demo's API shape with
 * an `X-Cache` header, and `POST /caches/flush-all` behind ADMIN_TOKEN. Reads PORT, HOST,
 * DATABASE_URL, REDIS_URL, ADMIN_TOKEN and WB_INSTANCE like the real app.
 *
 * @module
 */

const port = Number(Deno.env.get("PORT") ?? "8000");
const host = Deno.env.get("HOST") ?? "127.0.0.1";
const redisUrl = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
const unix = redisUrl.match(/^unix:\/\/(?::([^@/]*)@)?(\/.*)$/);
const redis = unix ? undefined : new URL(redisUrl);
const password = decodeURIComponent(unix ? unix[1] ?? "" : redis!.password);
const adminToken = Deno.env.get("ADMIN_TOKEN");
const encoder = new TextEncoder();

/** Whether Postgres' Unix socket (DATABASE_URL `?host=<dir>`, its port) accepts a connection. */
async function postgresUp(): Promise<boolean> {
  const url = Deno.env.get("DATABASE_URL");
  if (!url) return true;
  const dir = new URLSearchParams(url.split("?")[1] ?? "").get("host");
  const pgPort = url.match(/@[^:/]+:(\d+)\//)?.[1] ?? "5432";
  if (!dir) return true;
  try {
    const conn = await Deno.connect({ transport: "unix", path: `${dir}/.s.PGSQL.${pgPort}` });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

function encode(args: string[]): string {
  let request = `*${args.length}\r\n`;
  for (const arg of args) request += `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
  return request;
}

/** Sends one command over RESP and returns the reply (strings, numbers, null). */
async function command(...args: string[]): Promise<string | number | null> {
  const conn = unix
    ? await Deno.connect({ transport: "unix", path: unix[2] })
    : await Deno.connect({ hostname: redis!.hostname, port: Number(redis!.port) });
  try {
    const read = async () => {
      let text = "";
      const buffer = new Uint8Array(65536);
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
        const reply = parse(text);
        if (reply !== undefined) return reply.value;
      }
      throw new Error("connection closed");
    };
    if (password) {
      await conn.write(encoder.encode(encode(["AUTH", password])));
      await read();
    }
    await conn.write(encoder.encode(encode(args)));
    return await read();
  } finally {
    conn.close();
  }
}

function parse(text: string): { value: string | number | null } | undefined {
  const end = text.indexOf("\r\n");
  if (end < 0) return undefined;
  const head = text.slice(1, end);
  switch (text[0]) {
    case "+":
      return { value: head };
    case ":":
      return { value: Number(head) };
    case "-":
      throw new Error(head);
    case "$": {
      const length = Number(head);
      if (length < 0) return { value: null };
      const body = text.slice(end + 2);
      return body.length >= length + 2 ? { value: body.slice(0, length) } : undefined;
    }
  }
  throw new Error(`unexpected reply ${text}`);
}

const projects = [{ projectId: "p1", label: "Project one" }];
const presentationObjects = [
  { poId: "po-a", label: "Chart A" },
  { poId: "po-b", label: "Table B" },
];

Deno.serve({ hostname: host, port, onListen: () => {} }, async (request) => {
  const url = new URL(request.url);
  const json = (body: unknown, headers: Record<string, string> = {}) =>
    Response.json(body, { headers });
  if (url.pathname === "/healthz") {
    const up = await command("PING").then((r) => r === "PONG", () => false);
    const pg = await postgresUp();
    return Response.json({
      ok: pg,
      version: "fake-1.0",
      instance: Deno.env.get("WB_INSTANCE"),
      postgres: pg ? "up" : "down",
      redis: up ? "up" : "down",
    });
  }
  if (url.pathname === "/caches/flush-all" && request.method === "POST") {
    const auth = request.headers.get("authorization");
    if (!auth) return Response.json({ message: "unauthorized" }, { status: 401 });
    if (!adminToken || auth !== `Bearer ${adminToken}`) {
      return Response.json({ message: "forbidden" }, { status: 403 });
    }
    try {
      await command("FLUSHDB");
      return json({ success: true });
    } catch {
      return Response.json({ message: "Redis is unavailable" }, { status: 503 });
    }
  }
  if (url.pathname === "/kv") {
    const key = url.searchParams.get("key") ?? "";
    const value = url.searchParams.get("value");
    if (value !== null) await command("SET", key, value);
    return json({ key, value: await command("GET", key) });
  }
  if (url.pathname === "/api/projects") return json({ items: projects });
  const match = url.pathname.match(
    /^\/api\/projects\/([^/]+)\/presentation_objects(?:\/([^/]+)\/items)?$/,
  );
  if (match && !match[2]) return json(presentationObjects); // the array shape, on purpose
  if (match) {
    const key = `cache:items:${match[1]}:${match[2]}`;
    try {
      const cached = await command("GET", key);
      if (cached !== null) return json(JSON.parse(String(cached)), { "x-cache": "HIT" });
      await new Promise((r) => setTimeout(r, 20)); // "Postgres"
      const items = { poId: match[2], rows: [[1, 2], [3, 4]] };
      await command("SET", key, JSON.stringify(items));
      return json(items, { "x-cache": "MISS" });
    } catch {
      return json({ poId: match[2], rows: [] }, { "x-cache": "BYPASS" });
    }
  }
  return Response.json({ error: "not found" }, { status: 404 });
});
