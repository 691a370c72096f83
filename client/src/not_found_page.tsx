/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * The page of an address the app does not have (the server answers such a page with
 * status 404 and the app, which shows this).
 *
 * @module
 */
import { useTitle } from "./context.ts";
import { Link } from "./link.tsx";

/** Any unknown path. */
export function NotFoundPage({ path }: { path: string }) {
  useTitle("Page not found");
  return (
    <section class="not-found">
      <h2>Page not found</h2>
      <p>
        There is no page at <code>{path}</code>. It may have been moved, or the link was mistyped.
      </p>
      <ul>
        <li>
          <Link href="/projects">Projects</Link>: charts and tables of each project
        </li>
        <li>
          <Link href="/overview">Overview</Link>: the instance at a glance
        </li>
      </ul>
    </section>
  );
}
