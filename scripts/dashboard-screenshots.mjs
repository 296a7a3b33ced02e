// Regenerates the dashboard screenshots in docs/dashboard/ (npm run build first; then npm run screenshots):
// the agent's pages, the tracker's, and a controller's with one edge.
// Starts a real agent on loopback in a temporary folder, ingests three objects, purges a few pieces of one,
// fetches pieces over HTTP so the rate chart has a line, has python3-libtorrent download slowly from the
// agent and through the controller (the peers pages and the controller's chart), logs in with Debian's
// chromium (puppeteer-core, the test's flags: no network beyond 127.0.0.1) and saves one PNG per page.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import puppeteer from 'puppeteer-core';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const RUN = join(ROOT, 'bin/run.js');
const LT_CLIENT = join(ROOT, 'test/wire/lt_client.py');
const OUT = join(ROOT, 'docs/dashboard');
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-component-update',
  '--disable-background-networking',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-breakpad',
  '--no-pings',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
  '--disable-dev-shm-usage',
  '--hide-scrollbars',
];

const dir = await mkdtemp(join(tmpdir(), 'edgepeer-screenshots-'));
// edgepeer's own tracker, so that the objects page shows the swarm's copies per piece.
const trackerToken = join(dir, 'tracker.token');
const tracker = spawn(
  process.execPath,
  [RUN, 'tracker', '--port', '0', '--host', '127.0.0.1', '--admin-token-file', trackerToken, '--json'],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
const { announceUrl, dashboardUrl: trackerDashboard } = JSON.parse(
  (await once(createInterface({ input: tracker.stdout }), 'line'))[0],
);
const dataDir = join(dir, 'store');
const config = join(dir, 'edgepeer.yaml');
await writeFile(
  config,
  `dataDir: ${dataDir}\nlogLevel: warn\ntrackers: [${announceUrl}]\npeer:\n  port: 0\n  host: 127.0.0.1\nhttp:\n  port: 0\n  host: 127.0.0.1\nadmin:\n  listen: 127.0.0.1:0\n`,
);
const agent = spawn(process.execPath, [RUN, 'agent', '--config', config, '--json'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
// A controller with one edge of its own, for the controller's pages.
const controllerDir = join(dir, 'controller');
const controller = spawn(
  process.execPath,
  [
    RUN,
    'controller',
    '--data-dir',
    controllerDir,
    '--peer-port',
    '0',
    '--peer-host',
    '127.0.0.1',
    '--no-http',
    '--edge-listen',
    '127.0.0.1:0',
    '--admin-listen',
    '127.0.0.1:0',
    '--no-announce',
    '--log-level',
    'warn',
    '--json',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let edge;
let browser;
const leechers = [];
/** A libtorrent download of `infoHash` (its torrent from `storeDir`) from `peerPort`, held to `limit` bytes/s. */
async function leech(infoHash, storeDir, peerPort, limit) {
  const torrent = join(dir, `${infoHash}.torrent`);
  await run(process.execPath, [RUN, 'torrent', infoHash, '-o', torrent, '--data-dir', storeDir]);
  const save = join(dir, `leech-${leechers.length}`);
  const args = ['--torrent', torrent, '--save', save, '--peer', `127.0.0.1:${peerPort}`, '--timeout', '300'];
  const child = spawn('/usr/bin/python3', [LT_CLIENT, ...args, '--download-limit', String(limit)], {
    stdio: 'ignore',
  });
  leechers.push(child);
}
try {
  const [first] = await once(createInterface({ input: agent.stdout }), 'line');
  const where = JSON.parse(first);
  const token = (await readFile(join(dataDir, 'admin.token'), 'utf8')).trim();
  const api = async (path) =>
    (await fetch(`${where.adminUrl}${path}`, { headers: { authorization: `Bearer ${token}` } })).json();

  const ids = [];
  for (const [name, mib] of [
    ['trailer-1080p.mp4', 24],
    ['firmware-v2.3.bin', 6],
    ['catalogue.tar', 12],
  ]) {
    const file = join(dir, name);
    await writeFile(file, randomBytes(mib * 1024 * 1024));
    const { stdout } = await run(process.execPath, [RUN, 'ingest', file, '--data-dir', dataDir, '--json']);
    ids.push(JSON.parse(stdout.split('\n')[0]).infoHash);
  }
  await run(process.execPath, [RUN, 'purge', ids[0], '--pieces', '40-55,90', '--data-dir', dataDir, '--json']);
  // A few pieces of the first object read once, so that its piece map shows cached ones.
  const trailer = await api(`/v1/objects/${ids[0]}`);
  for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 200, 201, 202, 700]) {
    await (await fetch(trailer.pieceUrlTemplates[0].replace('{index}', String(i)))).arrayBuffer();
  }

  // A peer downloading the third object slowly, for the peers page.
  await leech(ids[2], dataDir, where.peerPort, 256 * 1024);
  // Some traffic for the chart: every piece of the second object over HTTP, a few times, over ~12 s.
  const shown = await api(`/v1/objects/${ids[1]}`);
  const template = shown.pieceUrlTemplates[0];
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < shown.pieces; i++) await (await fetch(template.replace('{index}', String(i)))).arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }

  const controllerAt = JSON.parse((await once(createInterface({ input: controller.stdout }), 'line'))[0]);
  const { stdout: created } = await run(process.execPath, [
    RUN,
    'controller',
    'token',
    'create',
    '--data-dir',
    controllerDir,
    '--json',
  ]);
  const edgeDir = join(dir, 'edge');
  const edgeConfig = join(dir, 'edge.yaml');
  await writeFile(
    edgeConfig,
    `dataDir: ${edgeDir}\nlogLevel: warn\npeer: { port: 0, host: 127.0.0.1 }\nhttp: { port: 0, host: 127.0.0.1 }\nadmin: { listen: "127.0.0.1:0" }\ncontroller:\n  url: ${controllerAt.edgeUrl}\n  enrolToken: ${JSON.parse(created.split('\n')[0]).token}\n`,
  );
  edge = spawn(process.execPath, [RUN, 'agent', '--config', edgeConfig, '--json'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await once(createInterface({ input: edge.stdout }), 'line');
  const edgeIds = [];
  for (const [name, mib] of [
    ['season-2-ep-01.mp4', 16],
    ['patch-2026-12.bin', 4],
  ]) {
    const file = join(dir, name);
    await writeFile(file, randomBytes(mib * 1024 * 1024));
    const { stdout } = await run(process.execPath, [RUN, 'ingest', file, '--data-dir', edgeDir, '--json']);
    edgeIds.push(JSON.parse(stdout.split('\n')[0]).infoHash);
  }
  await run(process.execPath, [RUN, 'purge', edgeIds[0], '--pieces', '10-25', '--data-dir', edgeDir, '--json']);

  browser = await puppeteer.launch({ executablePath: '/usr/bin/chromium', args: FLAGS, headless: true });
  const page = await browser.newPage();
  await page.setViewport({ width: 1200, height: 800 });
  await page.goto(`${where.adminUrl}/dashboard/login`);
  await page.screenshot({ path: join(OUT, 'login.png') });
  await page.type('#token', token);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'overview.png'), fullPage: true });
  await page.goto(`${where.adminUrl}/dashboard/objects?id=${ids[0]}`);
  await page.waitForSelector('#piece-map[data-held]');
  await page.waitForSelector('#swarm-map[data-max]');
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'objects.png'), fullPage: true });
  await page.goto(`${where.adminUrl}/dashboard/peers`);
  await page.waitForSelector('#peers tr[data-rate-positive]');
  await page.screenshot({ path: join(OUT, 'peers.png'), fullPage: true });

  // The tracker's pages.
  const trackerBase = trackerDashboard.replace(/\/dashboard\/$/, '');
  await page.goto(`${trackerBase}/dashboard/login`);
  await page.type('#token', (await readFile(trackerToken, 'utf8')).trim());
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'tracker-overview.png'), fullPage: true });
  await page.goto(`${trackerBase}/dashboard/swarms?id=${ids[0]}`);
  await page.waitForSelector('#swarm-map[data-max]');
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'tracker-swarms.png'), fullPage: true });

  // The controller's pages, once its edge reported what it holds.
  const controllerToken = (await readFile(join(controllerDir, 'admin.token'), 'utf8')).trim();
  for (;;) {
    const objects = await (
      await fetch(`${controllerAt.adminUrl}/v1/objects`, { headers: { authorization: `Bearer ${controllerToken}` } })
    ).json();
    if (objects.length === 2) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // A peer downloading through the controller (which fetches from its edge): its peers page and chart.
  await leech(edgeIds[1], edgeDir, controllerAt.peerPort, 128 * 1024);
  for (;;) {
    const { wire } = await (
      await fetch(`${controllerAt.adminUrl}/v1/status`, { headers: { authorization: `Bearer ${controllerToken}` } })
    ).json();
    if (wire?.uploadedBytes > 1024 * 1024) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await page.goto(`${controllerAt.adminUrl}/dashboard/login`);
  await page.type('#token', controllerToken);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'controller-overview.png'), fullPage: true });
  await page.goto(`${controllerAt.adminUrl}/dashboard/edges`);
  await page.waitForSelector('#edges tr[data-health]');
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'controller-edges.png'), fullPage: true });
  await page.goto(`${controllerAt.adminUrl}/dashboard/objects?id=${edgeIds[0]}`);
  await page.waitForSelector('#edge-maps canvas[data-held]');
  await page.waitForSelector('body[data-live]');
  await page.screenshot({ path: join(OUT, 'controller-objects.png'), fullPage: true });
  await page.goto(`${controllerAt.adminUrl}/dashboard/peers`);
  await page.waitForSelector('#peers tr[data-rate-positive]');
  await page.screenshot({ path: join(OUT, 'controller-peers.png'), fullPage: true });
  console.log(`screenshots written to ${OUT}`);
} finally {
  await browser?.close();
  for (const child of leechers) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  agent.kill('SIGTERM');
  await once(agent, 'exit');
  tracker.kill('SIGTERM');
  await once(tracker, 'exit');
  if (edge) {
    edge.kill('SIGTERM');
    await once(edge, 'exit');
  }
  controller.kill('SIGTERM');
  await once(controller, 'exit');
  await rm(dir, { recursive: true, force: true });
}
