export { BaseCommand, type FlagsOf } from './base-command.ts';
export { dataDirFlag } from './flags.ts';
export { type ProgressBar, progressBar } from './progress.ts';
