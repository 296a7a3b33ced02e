// The agent as a daemon process: SIGHUP reloads and the last-resort handler (commands/agent.ts wires them).

import type { Logger } from 'pino';
import { type ResolvedConfig, redactConfig } from '../config/index.ts';
import type { Agent } from './agent.ts';

/** Reads the configuration again and applies it; an invalid one is refused whole, with its reasons. */
export async function reloadAgent(agent: Agent, resolve: () => Promise<ResolvedConfig>, logger: Logger): Promise<void> {
  let next: ResolvedConfig;
  try {
    next = await resolve();
  } catch (err) {
    logger.error({ err: { message: (err as Error).message } }, 'configuration not reloaded: it is invalid');
    return;
  }
  const outcome = await agent.reload(next.config);
  const level = outcome.failed.length > 0 ? 'error' : 'info';
  logger[level]({ config: redactConfig(next.config), ...outcome }, 'configuration reloaded');
}

/**
 * The last resort: an error nothing caught (a bug) is logged as fatal with its stack, the agent gets
 * LAST_RESORT_STOP_MS to stop (trackers and the registrar told, the store closed), and the process exits 1,
 * for systemd to restart it. Without this Node would exit at once, leaving the tracker to time the edge out.
 * Returns the function that removes the handlers (after a normal stop).
 */
export function stopOnUnexpectedError(agent: Pick<Agent, 'stop'>, logger: Logger): () => void {
  const remove = () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
  const fail = (err: unknown, origin: string) => {
    remove();
    logger.fatal({ err, origin }, 'agent: an unexpected error; stopping and exiting 1');
    const exit = () => process.exit(1);
    setTimeout(exit, LAST_RESORT_STOP_MS).unref();
    agent.stop().then(exit, exit);
  };
  const onException = (err: Error) => fail(err, 'uncaughtException');
  const onRejection = (reason: unknown) => fail(reason, 'unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return remove;
}

const LAST_RESORT_STOP_MS = 3000;
