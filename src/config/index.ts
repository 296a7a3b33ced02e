export { defaultDataDir } from './paths.ts';
export { formatBytes, parseDuration, parseSize } from './units.ts';
