export { BaseCommand, type FlagsOf } from './base-command.ts';
export { controllerAdmin, controllerAdminFlags } from './controller-admin.ts';
export { type Daemon, serveUntilStopped, stopOnUnexpectedError } from './daemon.ts';
export { configFlag, controllerFlags, controllerOption, dataDirFlag } from './flags.ts';
export { createLogger } from './logger.ts';
export { type ProgressBar, progressBar } from './progress.ts';
export { untilStopSignal } from './signals.ts';
