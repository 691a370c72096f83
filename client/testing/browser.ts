/**
 * Test helpers of the browser tests: Debian's Chromium driven by playwright-core, users made
 * by the real `wb user add` entry (`server/user_add.ts`) and logged in through their
 * one-time links, and an axe-core scan of a page.
 *
 * @module
 */
import assert from "node:assert/strict";
import axe from "axe-core";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

/** Debian's Chromium (`apt-get install chromium`). */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed; in CI (`CI` set) its absence is an error. */
export async function chromiumAvailable(): Promise<boolean> {
  const has = await Deno.stat(CHROMIUM).then(() => true, () => false);
  if (!has && Deno.env.get("CI")) {
    throw new Error(`${CHROMIUM} is missing: .ci/run installs it with apt-get install chromium`);
  }
  return has;
}

/** Launches headless Chromium without its background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** `wb user add`'s server side: creates the user and returns a one-time login token. */
export async function userAdd(databaseUrl: string, email: string, admin: boolean): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../../server/user_add.ts", import.meta.url).pathname,
      email,
      ...(admin ? ["--admin"] : []),
    ],
    env: { DATABASE_URL: databaseUrl, DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout)).token;
}

/** Opens a one-time login link in a new page of `context` and clicks "Log in". */
export async function login(context: BrowserContext, base: string, token: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${base}/login?token=${token}`);
  await page.click("#login");
  await page.waitForSelector("#who");
  return page;
}

/** An axe-core violation, as the tests print it. */
export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core (npm `axe-core`, evaluated in the page: the app's CSP allows no inline
 * script, evaluation through the DevTools protocol is not a page script) over the page.
 *
 * @returns The violations of impact `serious` or `critical`.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(`axe.run(document, { resultTypes: ["violations"] })
    .then((r) => r.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
    })))`) as AxeViolation[];
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** `document.documentElement`'s widths: overflow when `scrollWidth > clientWidth`. */
export function pageWidths(page: Page): Promise<{ scrollWidth: number; clientWidth: number }> {
  return page.evaluate(`({
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
  })`) as Promise<{ scrollWidth: number; clientWidth: number }>;
}
