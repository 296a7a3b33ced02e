export { defaultDataDir } from './paths.ts';
