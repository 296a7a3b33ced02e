import { describe, expect, it } from 'vitest';
import { WarningThrottle } from '../../src/log/index.ts';
import { captureLog } from '../helpers/log.ts';

describe('WarningThrottle', () => {
  it('logs the first lines of each key per interval, then one summary with the count left out', async () => {
    const log = captureLog();
    const throttle = new WarningThrottle(log.logger, { perInterval: 3, intervalMs: 100 });
    for (let i = 0; i < 1000; i++) throttle.warn('malformed', { peer: i }, 'peer wire: malformed message');
    throttle.warn('other', { peer: 'x' }, 'another kind');
    expect(log.lines.map((l) => l.msg)).toEqual([
      'peer wire: malformed message',
      'peer wire: malformed message',
      'peer wire: malformed message',
      'another kind',
    ]);
    expect(log.lines.map((l) => l.peer)).toEqual([0, 1, 2, 'x']); // fields reach the output
    // The summary comes when the interval ends, though nothing more arrives.
    const summary = await log.waitFor((l) => l.suppressed !== undefined);
    expect(summary).toMatchObject({ level: 40, key: 'malformed', suppressed: 997 });
    expect(summary.msg).toBe('997 more warnings like "malformed" were not logged');
    // A new interval logs again.
    throttle.warn('malformed', { peer: 'late' }, 'peer wire: malformed message');
    expect(log.lines.at(-1)).toMatchObject({ peer: 'late' });
    expect(log.lines).toHaveLength(6);
    throttle.close();
  });

  it('close() logs what is pending and leaves no timer', () => {
    const log = captureLog();
    const throttle = new WarningThrottle(log.logger, { perInterval: 1, intervalMs: 3_600_000 });
    throttle.warn('k', {}, 'm');
    throttle.warn('k', {}, 'm');
    throttle.close();
    expect(log.lines.map((l) => l.suppressed)).toEqual([undefined, 1]);
  });
});
