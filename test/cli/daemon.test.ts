// The last-resort handler: a bug that escapes every handler is logged as fatal, the agent is stopped (trackers
// and registrar told, store closed), and the process exits 1. A real component cannot be made to throw
// out of nowhere, so the failure is emitted on the process, and process.exit is watched, not run.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Daemon, stopOnUnexpectedError } from '../../src/cli/index.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

function watched() {
  const fatal: Array<{ fields: Record<string, unknown>; message: string }> = [];
  const logger = { fatal: (fields: Record<string, unknown>, message: string) => fatal.push({ fields, message }) };
  let stopped = 0;
  let finishStop: () => void = () => {};
  const agent = {
    stop: () => {
      stopped += 1;
      return new Promise<string[]>((resolve) => {
        finishStop = () => resolve([]);
      });
    },
  };
  const exits: number[] = [];
  const exited = new Promise<number>((resolve) => {
    vi.spyOn(process, 'exit').mockImplementation(((code: number) => {
      exits.push(code);
      resolve(code);
    }) as typeof process.exit);
  });
  return { fatal, logger, agent, exits, exited, stopped: () => stopped, finishStop: () => finishStop() };
}

describe('stopOnUnexpectedError', () => {
  it('logs an uncaught exception as fatal, stops the agent once, and exits 1 when it has stopped', async () => {
    const w = watched();
    const before = process.listenerCount('uncaughtException');
    const remove = stopOnUnexpectedError(w.agent as unknown as Daemon, w.logger as never);
    try {
      process.emit('uncaughtException', new Error('a bug'));
      // Its handlers are gone: a second failure while stopping does not stop twice.
      expect(process.listenerCount('uncaughtException')).toBe(before);
      expect(w.stopped()).toBe(1);
      expect(w.fatal).toHaveLength(1);
      expect(w.fatal[0]!.fields).toMatchObject({ origin: 'uncaughtException', err: { message: 'a bug' } });
      expect(w.exits).toEqual([]);
      w.finishStop();
      expect(await w.exited).toBe(1);
    } finally {
      remove();
    }
  });

  it('exits 1 after at most 3 s when stopping hangs, for an unhandled rejection too', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    const w = watched();
    const remove = stopOnUnexpectedError(w.agent as unknown as Daemon, w.logger as never);
    try {
      process.emit('unhandledRejection', new Error('lost promise'), Promise.resolve());
      expect(w.fatal[0]!.fields).toMatchObject({ origin: 'unhandledRejection' });
      vi.advanceTimersByTime(2999);
      expect(w.exits).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(await w.exited).toBe(1);
    } finally {
      vi.useRealTimers();
      remove();
    }
  });

  it('leaves the process alone once removed (a normal stop)', () => {
    const w = watched();
    const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
    const remove = stopOnUnexpectedError(w.agent as unknown as Daemon, w.logger as never);
    expect(process.listenerCount('uncaughtException')).toBe(before[0]! + 1);
    remove();
    expect([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')]).toEqual(before);
    expect(w.stopped()).toBe(0);
  });
});
