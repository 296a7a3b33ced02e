import { describe, expect, it } from 'vitest';
import { TransferTally } from '../../src/agent/transfer-tally.ts';

describe('TransferTally', () => {
  it('adds up bytes per object, and forgets an object that left', () => {
    const tally = new TransferTally();
    expect(tally.of('a')).toBeUndefined();
    tally.uploaded('a', 100);
    tally.uploaded('a', 20);
    tally.downloaded('a', 7);
    tally.uploaded('b', 1);
    expect(tally.of('a')).toEqual({ uploaded: 120, downloaded: 7 });
    expect(tally.of('b')).toEqual({ uploaded: 1, downloaded: 0 });
    tally.forget('a');
    expect(tally.of('a')).toBeUndefined();
    tally.uploaded('a', 5);
    expect(tally.of('a')).toEqual({ uploaded: 5, downloaded: 0 });
  });
});
