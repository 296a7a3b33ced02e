// What the function ingested and when, as a record that outlives the process: a TTL
// (storageControl.ttl) counts from the ingest, not from the last start. Plain data; the agent's storage
// control part writes it beside the store and reads it back at start.
import { initialState } from './decide.ts';
import type { PolicyState } from './types.ts';

export const INGESTED_RECORD_VERSION = 1;

export interface IngestedRecord {
  version: typeof INGESTED_RECORD_VERSION;
  /** Per info hash: the object's piece count and, per piece the function ingested, when (ms since the epoch). */
  swarms: Record<string, { pieceCount: number; ingestedAt: Record<string, number> }>;
}

export class IngestedRecordError extends Error {}

/** The record of `state`: swarms with at least one piece the function ingested. */
export function ingestedRecordOf(state: PolicyState): IngestedRecord {
  const swarms: IngestedRecord['swarms'] = {};
  for (const [infoHash, memory] of Object.entries(state.swarms)) {
    const ingestedAt: Record<string, number> = {};
    memory.ingestedAt.forEach((at, piece) => {
      if (at !== null) ingestedAt[piece] = at;
    });
    if (Object.keys(ingestedAt).length > 0) swarms[infoHash] = { pieceCount: memory.ingestedAt.length, ingestedAt };
  }
  return { version: INGESTED_RECORD_VERSION, swarms };
}

/** A fresh state that remembers the record's ingests; refuses a record off this shape, saying where. */
export function stateFromIngestedRecord(record: unknown): PolicyState {
  if (
    typeof record !== 'object' ||
    record === null ||
    (record as { version?: unknown }).version !== INGESTED_RECORD_VERSION
  ) {
    throw new IngestedRecordError(`not a version ${INGESTED_RECORD_VERSION} record`);
  }
  const swarms = (record as { swarms?: unknown }).swarms;
  if (typeof swarms !== 'object' || swarms === null) throw new IngestedRecordError('"swarms" must be an object');
  const state = initialState();
  for (const [infoHash, entry] of Object.entries(swarms)) {
    if (!/^[0-9a-f]{40}$/.test(infoHash)) throw new IngestedRecordError(`${infoHash.slice(0, 50)} is not an info hash`);
    const { pieceCount, ingestedAt } = (entry ?? {}) as { pieceCount?: unknown; ingestedAt?: unknown };
    if (typeof pieceCount !== 'number' || !Number.isSafeInteger(pieceCount) || pieceCount < 1) {
      throw new IngestedRecordError(`${infoHash}: "pieceCount" must be a whole number >= 1`);
    }
    if (typeof ingestedAt !== 'object' || ingestedAt === null) {
      throw new IngestedRecordError(`${infoHash}: "ingestedAt" must be an object`);
    }
    const at: Array<number | null> = new Array(pieceCount).fill(null);
    for (const [piece, ms] of Object.entries(ingestedAt)) {
      const index = Number(piece);
      if (
        !Number.isSafeInteger(index) ||
        index < 0 ||
        index >= pieceCount ||
        typeof ms !== 'number' ||
        !Number.isFinite(ms)
      ) {
        throw new IngestedRecordError(`${infoHash}: piece ${piece.slice(0, 20)} has no valid time`);
      }
      at[index] = ms;
    }
    state.swarms[infoHash] = { plentifulSince: new Array(pieceCount).fill(null), ingestedAt: at, last: null };
  }
  return state;
}
