export { type Logger, silentLogger } from './logger.ts';
export { WarningThrottle, type WarningThrottleOptions } from './throttle.ts';
