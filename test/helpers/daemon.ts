// An edgepeer daemon (agent, controller, tracker) as a real process of the built CLI: started with its
// arguments, ready at its first stdout line (the `listening` record of --json), stopped by a signal.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bin/run.js', import.meta.url));

export interface RunningDaemon {
  child: ChildProcess;
  listening: Record<string, unknown> & { httpBaseUrls: string[]; peerPort: number; adminUrl: string };
  /** What it wrote to stderr so far. */
  logs: () => string;
}

/** Spawns bin/run.js with `args` (ending in --json) and resolves with its first stdout line. */
export async function startDaemon(args: string[]): Promise<RunningDaemon> {
  const child = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    logs += chunk.toString();
  });
  const [first] = (await Promise.race([
    once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`edgepeer ${args[0]} exited ${code}: ${logs}`);
    }),
  ])) as [string];
  const listening = JSON.parse(first) as RunningDaemon['listening'] & { event?: string };
  if (listening.event !== 'listening') throw new Error(`edgepeer ${args[0]} did not start: ${first}`);
  return { child, listening, logs: () => logs };
}

/** Sends `signal` and waits for the exit (nothing if it already exited). */
export async function stopDaemon(
  running: RunningDaemon | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<void> {
  if (running === undefined || running.child.exitCode !== null || running.child.signalCode !== null) return;
  const exited = once(running.child, 'exit');
  running.child.kill(signal);
  await exited;
}
