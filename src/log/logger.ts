// The one logging surface of the project: pino's, fields first. pino's own type also accepts
// (message, ...args) and then silently drops an object given after the message; this one does not compile it.

/** What every part logs through. A pino Logger is one; parts do not import pino. */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** For parts run without a logger (tests, library use). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
