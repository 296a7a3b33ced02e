// SIGHUP for the controller: the settings read again; what can change while running (log level, trackers,
// announcing at all, IMS registration, replicas) is applied on its own, the rest named as needing a restart.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { ControllerConfig, LogLevel } from '../config/index.ts';
import type { Controller } from './controller.ts';

const RESTART_ONLY = [
  'dataDir',
  'peer',
  'http',
  'edges.host',
  'edges.port',
  'edges.heartbeatMs',
  'admin',
  'cacheBytes',
  'shutdownGraceMs',
  'storageControl',
  // Where the maps come from; the maps themselves are read again at every SIGHUP.
  'topology',
] as const;

/** Reads the settings again and applies them; an invalid file is refused whole (logged), nothing changes. */
export async function reloadController(
  controller: Controller,
  resolve: () => Promise<{ config: ControllerConfig; logLevel: LogLevel }>,
  logger: Logger,
): Promise<void> {
  let next: { config: ControllerConfig; logLevel: LogLevel };
  try {
    next = await resolve();
  } catch (err) {
    logger.error({ err: { message: (err as Error).message } }, 'configuration not reloaded: it is invalid');
    return;
  }
  const outcome = await controller.reload(next.config, next.logLevel, logger);
  logger[outcome.failed.length > 0 ? 'error' : 'info'](outcome, 'configuration reloaded');
}

/** The settings that differ between `current` and `next` and can only change at a restart. */
export function restartOnlyChanges(current: ControllerConfig, next: ControllerConfig): string[] {
  const at = (config: ControllerConfig, path: string): unknown =>
    path.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | null)?.[key], config);
  return RESTART_ONLY.filter((path) => !isDeepStrictEqual(at(current, path), at(next, path)));
}
