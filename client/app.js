// The first page: presentation objects read through a browser cache (IndexedDB), a
// "Clear cache" button that flushes the server's caches (administrators) and then the
// browser's own, and live invalidation from the server's event stream (with a token).

const DB_NAME = "wb-cache";
const STORE = "entries";
const TOKEN_KEY = "wb.adminToken";
const STATE_KEY = "wb.versionState";
const EVENT_TYPES = [
  "module_run",
  "presentation_object_updated",
  "dataset_imported",
  "structure_imported",
  "invalidated",
];

/** Opens the browser cache database. */
function openCache() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function cacheOp(mode, run) {
  const db = await openCache();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request?.result);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

const cacheGet = (key) => cacheOp("readonly", (store) => store.get(key));
const cachePut = (key, value) => cacheOp("readwrite", (store) => store.put(value, key));
const cacheClear = () => cacheOp("readwrite", (store) => store.clear());
const cacheCount = () => cacheOp("readonly", (store) => store.count());

/** GET JSON; a response that is not OK becomes an Error with the server's message. */
async function getJson(path) {
  const response = await fetch(path, { headers: { accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message ?? `${response.status} ${response.statusText}`);
  return { body, xCache: response.headers.get("x-cache") };
}

/**
 * Items of a presentation object through the browser cache, keyed
 * `po_items/<projectId>/<poId>::<lastUpdated>` so an edit is a miss.
 */
async function poItems(projectId, po) {
  const key = `po_items/${projectId}/${po.poId}::${po.lastUpdated}`;
  const cached = await cacheGet(key).catch(() => undefined);
  if (cached) return { ...cached, source: "browser cache" };
  const { body, xCache } = await getJson(
    `/api/projects/${encodeURIComponent(projectId)}/presentation_objects/${
      encodeURIComponent(po.poId)
    }/items`,
  );
  if (body.status === "ok") await cachePut(key, { body }).catch(() => {});
  return { body, source: `server (X-Cache: ${xCache})` };
}

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

/** A horizontal bar chart (SVG) of the first numeric column per row label. */
function barChart(items, labelColumn, valueColumn) {
  const rows = items.slice(0, 30);
  const max = Math.max(1, ...rows.map((row) => Number(row[valueColumn]) || 0));
  const svgNs = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNs, "svg");
  svg.setAttribute("class", "bars");
  svg.setAttribute("width", "520");
  svg.setAttribute("height", String(rows.length * 16 + 4));
  rows.forEach((row, index) => {
    const rect = document.createElementNS(svgNs, "rect");
    rect.setAttribute("x", "160");
    rect.setAttribute("y", String(index * 16 + 2));
    rect.setAttribute("height", "12");
    rect.setAttribute("width", String((Number(row[valueColumn]) || 0) / max * 350));
    const text = document.createElementNS(svgNs, "text");
    text.setAttribute("x", "0");
    text.setAttribute("y", String(index * 16 + 12));
    text.textContent = String(row[labelColumn]).slice(0, 28);
    svg.append(rect, text);
  });
  return svg;
}

function renderItems(body) {
  const container = document.getElementById("viewer-body");
  container.replaceChildren();
  if (body.status !== "ok") {
    container.append(el("p", {}, `No items: ${body.status}`));
    return;
  }
  const items = body.items;
  if (items.length === 0) return container.append(el("p", {}, "No items"));
  const columns = Object.keys(items[0]);
  const valueColumn = columns.find((column) =>
    typeof items[0][column] === "number" && column !== "period_id"
  );
  const labelColumn = columns.find((column) => column !== valueColumn) ?? columns[0];
  if (valueColumn) container.append(barChart(items, labelColumn, valueColumn));
  const table = el("table", {}, el("tr", {}, ...columns.map((column) => el("th", {}, column))));
  for (const item of items.slice(0, 200)) {
    table.append(el("tr", {}, ...columns.map((column) => el("td", {}, String(item[column])))));
  }
  container.append(table);
  if (items.length > 200) container.append(el("p", {}, `… ${items.length - 200} more rows`));
}

async function showPresentationObject(projectId, po, button) {
  for (const other of document.querySelectorAll("#po-list button")) {
    other.removeAttribute("aria-current");
  }
  button.setAttribute("aria-current", "true");
  document.getElementById("viewer-title").textContent = po.label;
  document.getElementById("viewer-meta").textContent = "Loading…";
  try {
    const started = performance.now();
    const { body, source } = await poItems(projectId, po);
    const ms = Math.round(performance.now() - started);
    document.getElementById("viewer-meta").textContent = `${
      body.items?.length ?? 0
    } items from ${source} in ${ms} ms`;
    renderItems(body);
  } catch (error) {
    document.getElementById("viewer-meta").textContent = `Could not load: ${error.message}`;
  }
}

async function loadPresentationObjects() {
  const list = document.getElementById("po-list");
  const status = document.getElementById("objects-status");
  try {
    const meta = (await getJson("/api/instance_meta")).body;
    document.getElementById("instance").textContent = `${meta.instance} · v${meta.serverVersion}`;
    const projects = (await getJson("/api/projects")).body.items;
    let count = 0;
    for (const project of projects) {
      const objects = (await getJson(
        `/api/projects/${encodeURIComponent(project.projectId)}/presentation_objects`,
      )).body.items;
      for (const po of objects) {
        const button = el("button", { type: "button", "data-po-id": po.poId }, po.label);
        button.addEventListener(
          "click",
          () => showPresentationObject(project.projectId, po, button),
        );
        list.append(el("li", {}, button));
        count++;
      }
    }
    status.textContent = `${count} presentation objects`;
  } catch (error) {
    status.textContent = `Could not load: ${error.message}`;
  }
}

/**
 * "Clear cache": with an admin token, `POST /caches/flush-all` first (the server's shared
 * cache); then the browser's own cache, for everyone.
 */
async function clearCache() {
  const status = document.getElementById("clear-status");
  const token = document.getElementById("admin-token").value.trim();
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
  const messages = [];
  if (token) {
    const response = await fetch("/caches/flush-all", {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    const body = await response.json().catch(() => ({}));
    messages.push(
      response.ok
        ? "Server cache flushed."
        : `Server cache not flushed: ${body.message ?? response.status}.`,
    );
  } else {
    messages.push("No admin token: only this browser's cache is cleared.");
  }
  await cacheClear();
  messages.push(`Browser cache cleared (${await cacheCount()} entries left).`);
  status.textContent = messages.join(" ");
  status.dataset.done = "true";
}

/**
 * Live invalidation (`GET /api/events`, token as `access_token`: EventSource sends no
 * headers). The browser cache is emptied when the first state differs from the one this
 * browser last saw, and when a change reaches presentation object items (their keys do not
 * carry the module's version, so a module run elsewhere would otherwise go unnoticed).
 */
function listenForChanges() {
  const token = localStorage.getItem(TOKEN_KEY);
  const status = document.getElementById("live-status");
  if (!token || typeof EventSource === "undefined") return;
  const source = new EventSource(`/api/events?access_token=${encodeURIComponent(token)}`);
  source.addEventListener("starting", async (message) => {
    const state = JSON.stringify(JSON.parse(message.data).state);
    if (localStorage.getItem(STATE_KEY) !== state) {
      await cacheClear().catch(() => {});
      localStorage.setItem(STATE_KEY, state);
    }
    status.textContent = "Live updates: on";
    status.dataset.state = "on";
  });
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, async (message) => {
      const event = JSON.parse(message.data);
      if (event.affected.includes("presentation_object_item")) {
        await cacheClear().catch(() => {});
      }
      localStorage.removeItem(STATE_KEY);
      status.textContent = `Live updates: ${type} (${event.entity}) at ${
        new Date(event.at).toLocaleTimeString()
      }; browser cache ${event.affected.includes("presentation_object_item") ? "cleared" : "kept"}`;
      status.dataset.lastEventId = message.lastEventId;
    });
  }
  source.addEventListener("error", () => {
    status.textContent = "Live updates: reconnecting…";
    status.dataset.state = "reconnecting";
  });
}

document.getElementById("admin-token").value = localStorage.getItem(TOKEN_KEY) ?? "";
document.getElementById("clear-cache").addEventListener("click", () => {
  document.getElementById("clear-status").textContent = "Clearing…";
  clearCache().catch((error) => {
    document.getElementById("clear-status").textContent = `Failed: ${error.message}`;
  });
});
loadPresentationObjects();
listenForChanges();
