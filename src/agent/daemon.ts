// The agent as a daemon process: SIGHUP reloads the configuration (commands/agent.ts wires it).

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
