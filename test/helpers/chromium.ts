// Debian's chromium driven by puppeteer-core for the dashboard tests: kept off the network (loopback
// only, no first run, no updates, no pings), logging in to a dashboard, and axe-core's accessibility check.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { expect } from 'vitest';

/** axe-core, the accessibility engine, injected into each page (npm devDependency, no download). */
const AXE = fileURLToPath(new URL('../../node_modules/axe-core/axe.min.js', import.meta.url));

function which(command: string): string | null {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const CHROMIUM = which('chromium');
/** In CI a missing browser is a failure (setup-system.sh installs it); only a run with CI=false may skip. */
export const skipWithoutChromium = CHROMIUM === null && process.env.CI === 'false';

/** Flags that keep chromium off the network and quiet: loopback only, no first run, no updates, no pings. */
export const CHROMIUM_FLAGS = [
  '--headless=new',
  '--no-sandbox', // tests run as root in CI containers
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-component-update',
  '--disable-background-networking',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--disable-breakpad',
  '--metrics-recording-only',
  '--no-pings',
  '--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication,CertificateTransparencyComponentUpdater',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  '--disable-dev-shm-usage',
];

export function launchChromium(profileDir: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM as string,
    args: CHROMIUM_FLAGS,
    userDataDir: profileDir,
    headless: true,
  });
}

/** Submits the login form of the dashboard at `baseUrl` with `token`. */
export async function logIn(page: Page, baseUrl: string, token: string): Promise<void> {
  await page.goto(`${baseUrl}/dashboard/login`);
  await page.type('#token', token);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
}

/**
 * A new page logged in to the dashboard at `baseUrl` with `token`, on the overview. `forAxe`: with the
 * page's CSP bypassed, so that expectAccessible can inject axe-core.
 */
export async function loggedInPage(
  browser: Browser,
  baseUrl: string,
  token: string,
  { forAxe = false }: { forAxe?: boolean } = {},
): Promise<Page> {
  const page = await browser.newPage();
  if (forAxe) await page.setBypassCSP(true);
  await logIn(page, baseUrl, token);
  expect(new URL(page.url()).pathname).toBe('/dashboard/');
  return page;
}

/**
 * What every dashboard refuses, on a new page: `pagePath` without a session goes to the login page (which
 * says where the token is: `hint`, and passes axe-core), `apiPath` answers 401, and `wrongToken` gets the
 * login page back ("Wrong token") and no cookie. Returns the page, still logged out, CSP bypassed.
 */
export async function expectLoginRequired(
  browser: Browser,
  baseUrl: string,
  { pagePath, apiPath, wrongToken, hint }: { pagePath: string; apiPath: string; wrongToken: string; hint: string },
): Promise<Page> {
  const page = await browser.newPage();
  await page.setBypassCSP(true);
  await page.goto(`${baseUrl}${pagePath}`);
  expect(new URL(page.url()).pathname).toBe('/dashboard/login');
  expect(await page.$eval('main p', (p) => p.textContent)).toContain(hint);
  await expectAccessible(page, `login page (${baseUrl})`);
  expect(await page.evaluate(async (path) => (await fetch(path)).status, apiPath)).toBe(401);
  await logIn(page, baseUrl, wrongToken);
  expect(page.url()).toContain('/dashboard/login?failed=1');
  expect(await page.$eval('[role=alert]', (e) => e.textContent)).toContain('Wrong token');
  expect(await page.cookies()).toEqual([]);
  return page;
}

interface AxeViolation {
  id: string;
  impact: string | null;
  nodes: unknown[];
}

/**
 * Runs axe-core on the page as it is: no violation of impact serious or critical. The page's CSP allows
 * scripts from the server only, so the page must have been opened with CSP bypassed for the engine.
 */
export async function expectAccessible(page: Page, what: string): Promise<void> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run();
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  expect(
    violations.filter((v) => v.impact === 'serious' || v.impact === 'critical'),
    `${what}: ${JSON.stringify(violations)}`,
  ).toEqual([]);
}
