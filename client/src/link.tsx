/// <reference no-default-lib="true" />
/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * An in-app link: a real `<a href>` (open in a new tab works) that navigates without a
 * reload on a plain click.
 *
 * @module
 */
import type { ComponentChildren } from "preact";
import { useServices } from "./context.ts";

/** A link to a path of the app. */
export function Link(
  { href, children, current, ...rest }: {
    href: string;
    children: ComponentChildren;
    current?: boolean;
    [attribute: string]: unknown;
  },
) {
  const { navigate } = useServices();
  return (
    <a
      {...rest}
      href={href}
      aria-current={current ? "page" : undefined}
      onClick={(event: MouseEvent) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
