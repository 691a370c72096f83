/**
 * The app's pages, from the URL (pure: the router in `app.tsx` listens to the history).
 *
 * | path                              | page                                         |
 * | --------------------------------- | -------------------------------------------- |
 * | `/`, `/projects`                  | the first project                            |
 * | `/projects/:projectId[/:poId]`    | a project's presentation objects (one open)  |
 * | `/overview`                       | the instance overview (auto-refreshing)      |
 * | `/profile`                        | who you are, "Clear cache", log out          |
 * | `/admin/caches`                   | cache statistics (administrators)            |
 * | `/login?token=…`                  | a one-time login link                        |
 *
 * @module
 */

/** A page and its parameters. */
export type Route =
  | { page: "projects"; projectId?: string; poId?: string }
  | { page: "overview" }
  | { page: "profile" }
  | { page: "caches" }
  | { page: "login"; token?: string }
  | { page: "not_found"; path: string };

/**
 * The route of a location.
 *
 * @example
 * ```ts
 * parseRoute("/projects/demo/po_a", ""); // { page: "projects", projectId: "demo", poId: "po_a" }
 * ```
 */
export function parseRoute(pathname: string, search: string): Route {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0 || (parts[0] === "projects" && parts.length <= 3)) {
    return { page: "projects", projectId: parts[1], poId: parts[2] };
  }
  if (parts.length === 1 && parts[0] === "overview") return { page: "overview" };
  if (parts.length === 1 && parts[0] === "profile") return { page: "profile" };
  if (parts.length === 2 && parts[0] === "admin" && parts[1] === "caches") {
    return { page: "caches" };
  }
  if (parts.length === 1 && parts[0] === "login") {
    return { page: "login", token: new URLSearchParams(search).get("token") ?? undefined };
  }
  return { page: "not_found", path: pathname };
}

/** The path of a project page. */
export function projectPath(projectId: string, poId?: string): string {
  return `/projects/${encodeURIComponent(projectId)}${
    poId === undefined ? "" : `/${encodeURIComponent(poId)}`
  }`;
}
