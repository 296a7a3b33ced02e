// The agent process's life at its ends: SIGTERM stops it within one deadline even when the tracker and the
// registrar never answer, with its ports closed before it tells them; a SIGHUP whose new configuration
// cannot be applied is logged and the agent serves on as it was.
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHUTDOWN_MARGIN_MS } from '../../src/agent/index.ts';
import { edgepeer } from '../helpers/cli.ts';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));
const GRACE_MS = 1000;

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-lifecycle-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface RunningAgent {
  child: ChildProcess;
  listening: { peerPort: number; httpPort: number };
  /** Resolves with the first log line (stderr, JSON) that contains `text`. */
  logLine(text: string): Promise<Record<string, unknown>>;
}

async function startAgent(configFile: string): Promise<RunningAgent> {
  const child = spawn(process.execPath, [RUN, 'agent', '--config', configFile, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiting: Array<{ text: string; resolve: (line: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const wait of [...waiting]) {
      if (line.includes(wait.text)) {
        waiting.splice(waiting.indexOf(wait), 1);
        wait.resolve(JSON.parse(line) as Record<string, unknown>);
      }
    }
  });
  const [first] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  const listening = JSON.parse(first);
  expect(listening).toMatchObject({ event: 'listening' });
  return {
    child,
    listening,
    logLine: (text) =>
      new Promise((resolve) => {
        const seen = lines.find((line) => line.includes(text));
        if (seen) resolve(JSON.parse(seen));
        else waiting.push({ text, resolve });
      }),
  };
}

/** True if a TCP connection to the port is refused. */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('agent shutdown', () => {
  let tracker: Server;
  const registrar = createSocket('udp4');

  afterAll(async () => {
    tracker?.closeAllConnections();
    tracker?.close();
    registrar.close();
  });

  it('stops within the grace plus its margin when the tracker and the registrar never answer', async () => {
    // A tracker that answers `started` and never answers `stopped`; a registrar that swallows every REGISTER.
    let peerPort = 0;
    let startedSeen: () => void = () => {};
    const announced = new Promise<void>((resolve) => {
      startedSeen = resolve;
    });
    const stoppedSeen = new Promise<{ peerPortRefused: boolean }>((resolve) => {
      tracker = createServer((req, res) => {
        if (req.url?.includes('event=stopped')) {
          refuses(peerPort).then((peerPortRefused) => resolve({ peerPortRefused }));
          return;
        }
        res.end('d8:intervali1800e5:peers0:e');
        startedSeen();
      });
    });
    tracker.listen(0, '127.0.0.1');
    await once(tracker, 'listening');
    registrar.bind(0, '127.0.0.1');
    await once(registrar, 'listening');
    const trackerPort = (tracker.address() as { port: number }).port;

    const dataDir = join(dir, 'store-shutdown');
    const file = join(dir, 'object.bin');
    await writeFile(file, Buffer.alloc(100_000, 3));
    const ingested = await edgepeer(['ingest', file, '--data-dir', dataDir, '--json']);
    expect(ingested.code, ingested.stderr).toBe(0);
    await writeFile(join(dir, 'password'), 'secret\n', { mode: 0o600 });
    const configFile = join(dir, 'shutdown.yaml');
    await writeFile(
      configFile,
      [
        `dataDir: ${dataDir}`,
        `shutdownGrace: ${GRACE_MS}ms`,
        'peer: { port: 0, host: 127.0.0.1 }',
        'http: { port: 0, host: 127.0.0.1 }',
        'admin: { listen: "127.0.0.1:0" }',
        `trackers: ["http://127.0.0.1:${trackerPort}/announce"]`,
        'ims:',
        `  registrar: sip:127.0.0.1:${(registrar.address() as { port: number }).port}`,
        '  impi: edge@ims.example.test',
        '  impu: sip:edge@ims.example.test',
        `  passwordFile: ${join(dir, 'password')}`,
        '  transport: udp',
        '',
      ].join('\n'),
    );
    const registerSent = once(registrar, 'message');
    const agent = await startAgent(configFile);
    peerPort = agent.listening.peerPort;
    await announced;
    await registerSent;

    const exited = once(agent.child, 'exit');
    const started = performance.now();
    agent.child.kill('SIGTERM');
    const [code] = await exited;
    const elapsed = performance.now() - started;
    expect(code).toBe(0);
    // Ports closed first, trackers told while transfers drain, all within the one deadline.
    expect(await stoppedSeen).toEqual({ peerPortRefused: true });
    expect(elapsed).toBeLessThan(GRACE_MS + SHUTDOWN_MARGIN_MS + 2000);
    const late = await agent.logLine('parts still busy at the deadline');
    expect(late.parts).toEqual(expect.arrayContaining(['ims']));
  });
});

describe('agent stop right after start', () => {
  it('stops cleanly on a SIGTERM sent the moment it says it listens, every time', async () => {
    // Before the stop signal was listened for from the command's start, about half of these died of the
    // signal itself (exit by SIGTERM, no `stopped`), as a process with no listener does.
    for (let attempt = 0; attempt < 4; attempt++) {
      const configFile = join(dir, `quick-${attempt}.yaml`);
      await writeFile(
        configFile,
        [
          `dataDir: ${join(dir, `store-quick-${attempt}`)}`,
          'announce: false',
          'peer: { port: 0, host: 127.0.0.1 }',
          'http: { port: 0, host: 127.0.0.1 }',
          'admin: { listen: "127.0.0.1:0" }',
          '',
        ].join('\n'),
      );
      const agent = await startAgent(configFile);
      agent.child.kill('SIGTERM');
      const [code, signal] = (await once(agent.child, 'exit')) as [number | null, string | null];
      expect({ attempt, code, signal }).toEqual({ attempt, code: 0, signal: null });
    }
  });
});

describe('agent reload', () => {
  it('logs a change it cannot apply and serves on with the running configuration', async () => {
    const dataDir = join(dir, 'store-reload');
    const configFile = join(dir, 'reload.yaml');
    const base = [
      `dataDir: ${dataDir}`,
      'announce: false',
      'peer: { port: 0, host: 127.0.0.1 }',
      'http: { port: 0, host: 127.0.0.1 }',
      'admin: { listen: "127.0.0.1:0" }',
    ];
    await writeFile(configFile, `${base.join('\n')}\n`);
    const agent = await startAgent(configFile);
    try {
      // Valid as configuration, refused by the registration it would start: the host has an underscore.
      await writeFile(join(dir, 'password'), 'secret\n', { mode: 0o600 });
      await writeFile(
        configFile,
        [
          ...base,
          'ims:',
          '  registrar: sip:127.0.0.1:9',
          '  impi: edge@ims.example.test',
          '  impu: sip:edge@ims_example.test',
          `  passwordFile: ${join(dir, 'password')}`,
          '',
        ].join('\n'),
      );
      agent.child.kill('SIGHUP');
      const failed = await agent.logLine('reload: a setting could not be applied');
      expect(failed).toMatchObject({ setting: 'ims' });
      expect(JSON.stringify(failed.err)).toContain('ims_example.test');
      const reloaded = await agent.logLine('"configuration reloaded"');
      expect(reloaded).toMatchObject({ failed: [{ setting: 'ims' }] });

      // Still serving, still without IMS.
      expect(agent.child.exitCode).toBeNull();
      const status = await edgepeer(['status', '--data-dir', dataDir, '--json']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.lines[0]?.ims).toBeNull();
      const response = await fetch(`http://127.0.0.1:${agent.listening.httpPort}/objects/`);
      expect(response.status).toBeLessThan(500);
    } finally {
      const exited = once(agent.child, 'exit');
      agent.child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    }
  });
});
