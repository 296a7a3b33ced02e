import { describe, expect, it } from 'vitest';
import {
  IngestedRecordError,
  ingestedRecordOf,
  initialState,
  stateFromIngestedRecord,
} from '../../src/policy/index.ts';

const HASH = 'ab'.repeat(20);

describe('the record of what the function ingested', () => {
  it('keeps the pieces it ingested, with when, and gives them back as state', () => {
    const state = initialState();
    state.swarms[HASH] = { plentifulSince: [5, null, null], ingestedAt: [null, 1000, null], last: null };
    state.swarms['cd'.repeat(20)] = { plentifulSince: [null], ingestedAt: [null], last: null };
    const record = ingestedRecordOf(state);
    expect(record).toEqual({ version: 1, swarms: { [HASH]: { pieceCount: 3, ingestedAt: { 1: 1000 } } } });
    const back = stateFromIngestedRecord(JSON.parse(JSON.stringify(record)));
    expect(back.swarms[HASH]).toEqual({
      plentifulSince: [null, null, null],
      ingestedAt: [null, 1000, null],
      last: null,
    });
    expect(Object.keys(back.swarms)).toEqual([HASH]);
  });

  it.each([
    ['another version', { version: 2, swarms: {} }, 'not a version 1 record'],
    ['no swarms', { version: 1 }, '"swarms" must be an object'],
    ['a key that is not an info hash', { version: 1, swarms: { x: {} } }, 'x is not an info hash'],
    ['no piece count', { version: 1, swarms: { [HASH]: { ingestedAt: {} } } }, '"pieceCount" must be'],
    [
      'a piece past the end',
      { version: 1, swarms: { [HASH]: { pieceCount: 2, ingestedAt: { 2: 5 } } } },
      'piece 2 has no valid time',
    ],
    [
      'a time that is not a number',
      { version: 1, swarms: { [HASH]: { pieceCount: 2, ingestedAt: { 0: 'soon' } } } },
      'piece 0 has no valid time',
    ],
  ])('refuses %s, saying what', (_, record, message) => {
    expect(() => stateFromIngestedRecord(record)).toThrow(IngestedRecordError);
    expect(() => stateFromIngestedRecord(record)).toThrow(message);
  });
});
