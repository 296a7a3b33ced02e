// A long-running command (the agent, the controller) as a daemon: SIGHUP, SIGTERM/SIGINT with a graceful
// stop, and the last-resort handler for an error nothing caught.
import type { Logger } from 'pino';

/** What a daemon command runs: stopped within its own deadline, resolving with the parts that were late. */
export interface Daemon {
  stop(): Promise<string[]>;
}

/**
 * Serves until SIGINT or SIGTERM: SIGHUP calls `reload` (one at a time, in order), an error nothing caught
 * stops the daemon and exits 1. Then stops it, tells `stopped`, and exits at once if a part was late (a
 * registrar that never answers must not keep the process alive).
 */
export async function serveUntilStopped(
  daemon: Daemon,
  logger: Logger,
  options: {
    graceMs: number;
    reload: () => Promise<void>;
    stopped: (record: object) => void;
    /**
     * untilStopSignal(), called when the command began: a SIGTERM while the daemon was starting stops it
     * as soon as it has started, instead of killing the process (Node's default before a listener exists).
     */
    stopSignal: Promise<NodeJS.Signals>;
  },
): Promise<void> {
  let reloading = Promise.resolve();
  const onReload = () => {
    reloading = reloading.then(options.reload);
  };
  process.on('SIGHUP', onReload);
  const stopOnFailure = stopOnUnexpectedError(daemon, logger);
  const signal = await options.stopSignal;
  process.off('SIGHUP', onReload);
  logger.info({ signal, graceMs: options.graceMs }, 'stopping');
  const late = await daemon.stop();
  stopOnFailure();
  options.stopped({ event: 'stopped', signal, ...(late.length > 0 ? { late } : {}) });
  if (late.length > 0) process.exit(0);
}

/**
 * The last resort: an error nothing caught (a bug) is logged as fatal with its stack, the daemon gets
 * LAST_RESORT_STOP_MS to stop (trackers and the registrar told, the store closed), and the process exits 1,
 * for systemd to restart it. Without this Node would exit at once, leaving the tracker to time the edge out.
 * Returns the function that removes the handlers (after a normal stop).
 */
export function stopOnUnexpectedError(daemon: Daemon, logger: Logger): () => void {
  const remove = () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
  const fail = (err: unknown, origin: string) => {
    remove();
    logger.fatal({ err, origin }, 'an unexpected error; stopping and exiting 1');
    const exit = () => process.exit(1);
    setTimeout(exit, LAST_RESORT_STOP_MS).unref();
    daemon.stop().then(exit, exit);
  };
  const onException = (err: Error) => fail(err, 'uncaughtException');
  const onRejection = (reason: unknown) => fail(reason, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return remove;
}

const LAST_RESORT_STOP_MS = 3000;
