// The store's index is a sequence of checksummed records, in two files of one format: a snapshot (the
// whole state, replaced atomically) and a journal (changes since that snapshot, appended). A frame is
//   u32 payload length | u32 CRC-32 of (type byte + payload) | u8 type | payload
// all little-endian. A frame cut short or failing its CRC ends the log: it is a write that a crash
// interrupted, never acknowledged to anyone.
import { crc32 } from 'node:zlib';
import { StoreCorruptError } from '../errors/index.ts';
import type { RemovalReason } from './types.ts';

export const FRAME_HEADER_BYTES = 9;
/** Far above any real record (a bitmap of 2^31 pieces is 256 MiB); a larger length is garbage. */
const MAX_PAYLOAD_BYTES = 512 * 1024 * 1024;
const MAGIC = 0x45505831; // "EPX1"
export const FORMAT_VERSION = 1;

export const RecordType = {
  header: 1,
  object: 2,
  piecesAdded: 3,
  piecesRemoved: 4,
  objectRemoved: 5,
  objectUpdated: 6,
  end: 7,
} as const;

export type FileKind = 'snapshot' | 'journal';

export interface Frame {
  type: number;
  payload: Buffer;
  /** Offset just after this frame. */
  end: number;
}

export function encodeFrame(type: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(checksum(type, payload), 4);
  frame.writeUInt8(type, 8);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

function checksum(type: number, payload: Buffer): number {
  return crc32(payload, crc32(Buffer.of(type)));
}

/** The intact frames from `offset` on; `validEnd` is where the first cut-short or corrupt frame starts. */
export function readFrames(buffer: Buffer, offset = 0): { frames: Frame[]; validEnd: number } {
  const frames: Frame[] = [];
  let position = offset;
  while (position + FRAME_HEADER_BYTES <= buffer.length) {
    const length = buffer.readUInt32LE(position);
    if (length > MAX_PAYLOAD_BYTES) break;
    const end = position + FRAME_HEADER_BYTES + length;
    if (end > buffer.length) break;
    const type = buffer.readUInt8(position + 8);
    const payload = buffer.subarray(position + FRAME_HEADER_BYTES, end);
    if (checksum(type, payload) !== buffer.readUInt32LE(position + 4)) break;
    frames.push({ type, payload, end });
    position = end;
  }
  return { frames, validEnd: position };
}

// Payloads

export interface ObjectRecord {
  infoHash: string;
  name: string;
  pieceLength: number;
  pieceCount: number;
  length: number;
  addedAt: number;
  expiresAt: number | null;
  source: string | null;
  /** Wire-format bitfield, ceil(pieceCount / 8) bytes. */
  bitfield: Uint8Array;
}

export interface PiecesRecord {
  infoHash: string;
  pieceIndexes: number[];
}

export interface PiecesRemovedRecord extends PiecesRecord {
  reason: RemovalReason;
}

export interface ObjectRemovedRecord {
  infoHash: string;
  reason: RemovalReason;
}

export interface ObjectUpdatedRecord {
  infoHash: string;
  expiresAt: number | null;
  source: string | null;
}

export interface HeaderRecord {
  kind: FileKind;
  generation: number;
}

const REASONS: readonly RemovalReason[] = ['purge', 'expired', 'corrupt', 'policy'];

class Writer {
  #chunks: Buffer[] = [];

  u8(value: number): this {
    this.#chunks.push(Buffer.of(value));
    return this;
  }
  u32(value: number): this {
    const chunk = Buffer.allocUnsafe(4);
    chunk.writeUInt32LE(value);
    this.#chunks.push(chunk);
    return this;
  }
  f64(value: number): this {
    const chunk = Buffer.allocUnsafe(8);
    chunk.writeDoubleLE(value);
    this.#chunks.push(chunk);
    return this;
  }
  infoHash(value: string): this {
    this.#chunks.push(Buffer.from(value, 'hex'));
    return this;
  }
  bytes(value: Uint8Array): this {
    this.u32(value.byteLength);
    this.#chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return this;
  }
  text(value: string): this {
    return this.bytes(Buffer.from(value, 'utf8'));
  }
  optionalText(value: string | null): this {
    this.u8(value === null ? 0 : 1);
    return value === null ? this : this.text(value);
  }
  optionalTime(value: number | null): this {
    return this.f64(value ?? -1);
  }
  indexes(values: readonly number[]): this {
    const chunk = Buffer.allocUnsafe(4 + 4 * values.length);
    chunk.writeUInt32LE(values.length, 0);
    for (let i = 0; i < values.length; i++) chunk.writeUInt32LE(values[i]!, 4 + 4 * i);
    this.#chunks.push(chunk);
    return this;
  }
  done(): Buffer {
    return Buffer.concat(this.#chunks);
  }
}

/** Reads a payload; any overrun or bad value means a record that passed its CRC but is not ours. */
class Reader {
  readonly #buffer: Buffer;
  #position = 0;
  constructor(buffer: Buffer) {
    this.#buffer = buffer;
  }
  /** Advances over `length` bytes and returns where they start (no slice: opening 100k objects reads here). */
  #skip(length: number): number {
    const start = this.#position;
    if (start + length > this.#buffer.length) throw corrupt('record is shorter than its fields');
    this.#position = start + length;
    return start;
  }
  u8(): number {
    return this.#buffer.readUInt8(this.#skip(1));
  }
  u32(): number {
    return this.#buffer.readUInt32LE(this.#skip(4));
  }
  f64(): number {
    return this.#buffer.readDoubleLE(this.#skip(8));
  }
  infoHash(): string {
    const start = this.#skip(20);
    return this.#buffer.toString('hex', start, start + 20);
  }
  bytes(): Buffer {
    const length = this.u32();
    const start = this.#skip(length);
    return this.#buffer.subarray(start, start + length);
  }
  text(): string {
    const length = this.u32();
    const start = this.#skip(length);
    return this.#buffer.toString('utf8', start, start + length);
  }
  optionalText(): string | null {
    return this.u8() === 0 ? null : this.text();
  }
  optionalTime(): number | null {
    const value = this.f64();
    return value < 0 ? null : value;
  }
  indexes(): number[] {
    const count = this.u32();
    const start = this.#skip(4 * count);
    const values = new Array<number>(count);
    for (let i = 0; i < count; i++) values[i] = this.#buffer.readUInt32LE(start + 4 * i);
    return values;
  }
  reason(): RemovalReason {
    const reason = REASONS[this.u8()];
    if (reason === undefined) throw corrupt('unknown removal reason');
    return reason;
  }
  end(): void {
    if (this.#position !== this.#buffer.length) throw corrupt('record is longer than its fields');
  }
}

function corrupt(what: string): StoreCorruptError {
  return new StoreCorruptError(`store index: ${what}`);
}

function reasonCode(reason: RemovalReason): number {
  return REASONS.indexOf(reason);
}

export function encodeHeader(record: HeaderRecord): Buffer {
  const payload = new Writer()
    .u32(MAGIC)
    .u32(FORMAT_VERSION)
    .u8(record.kind === 'snapshot' ? 1 : 2)
    .f64(record.generation)
    .done();
  return encodeFrame(RecordType.header, payload);
}

export function decodeHeader(frame: Frame | undefined): HeaderRecord | null {
  if (frame?.type !== RecordType.header) return null;
  const reader = new Reader(frame.payload);
  if (reader.u32() !== MAGIC) return null;
  const version = reader.u32();
  if (version !== FORMAT_VERSION)
    throw corrupt(`format version ${version} is not supported (this is ${FORMAT_VERSION})`);
  const kind = reader.u8() === 1 ? 'snapshot' : 'journal';
  const generation = reader.f64();
  reader.end();
  return { kind, generation };
}

export function encodeObject(record: ObjectRecord): Buffer {
  const payload = new Writer()
    .infoHash(record.infoHash)
    .text(record.name)
    .u32(record.pieceLength)
    .u32(record.pieceCount)
    .f64(record.length)
    .f64(record.addedAt)
    .optionalTime(record.expiresAt)
    .optionalText(record.source)
    .bytes(record.bitfield)
    .done();
  return encodeFrame(RecordType.object, payload);
}

export function decodeObject(payload: Buffer): ObjectRecord {
  const reader = new Reader(payload);
  const record: ObjectRecord = {
    infoHash: reader.infoHash(),
    name: reader.text(),
    pieceLength: reader.u32(),
    pieceCount: reader.u32(),
    length: reader.f64(),
    addedAt: reader.f64(),
    expiresAt: reader.optionalTime(),
    source: reader.optionalText(),
    bitfield: reader.bytes(),
  };
  reader.end();
  return record;
}

export function encodePiecesAdded(record: PiecesRecord): Buffer {
  return encodeFrame(
    RecordType.piecesAdded,
    new Writer().infoHash(record.infoHash).indexes(record.pieceIndexes).done(),
  );
}

export function decodePiecesAdded(payload: Buffer): PiecesRecord {
  const reader = new Reader(payload);
  const record = { infoHash: reader.infoHash(), pieceIndexes: reader.indexes() };
  reader.end();
  return record;
}

export function encodePiecesRemoved(record: PiecesRemovedRecord): Buffer {
  return encodeFrame(
    RecordType.piecesRemoved,
    new Writer().infoHash(record.infoHash).u8(reasonCode(record.reason)).indexes(record.pieceIndexes).done(),
  );
}

export function decodePiecesRemoved(payload: Buffer): PiecesRemovedRecord {
  const reader = new Reader(payload);
  const record = { infoHash: reader.infoHash(), reason: reader.reason(), pieceIndexes: reader.indexes() };
  reader.end();
  return record;
}

export function encodeObjectRemoved(record: ObjectRemovedRecord): Buffer {
  return encodeFrame(
    RecordType.objectRemoved,
    new Writer().infoHash(record.infoHash).u8(reasonCode(record.reason)).done(),
  );
}

export function decodeObjectRemoved(payload: Buffer): ObjectRemovedRecord {
  const reader = new Reader(payload);
  const record = { infoHash: reader.infoHash(), reason: reader.reason() };
  reader.end();
  return record;
}

export function encodeObjectUpdated(record: ObjectUpdatedRecord): Buffer {
  return encodeFrame(
    RecordType.objectUpdated,
    new Writer().infoHash(record.infoHash).optionalTime(record.expiresAt).optionalText(record.source).done(),
  );
}

export function decodeObjectUpdated(payload: Buffer): ObjectUpdatedRecord {
  const reader = new Reader(payload);
  const record = { infoHash: reader.infoHash(), expiresAt: reader.optionalTime(), source: reader.optionalText() };
  reader.end();
  return record;
}

export function encodeEnd(objectCount: number): Buffer {
  return encodeFrame(RecordType.end, new Writer().u32(objectCount).done());
}

export function decodeEnd(payload: Buffer): number {
  const reader = new Reader(payload);
  const count = reader.u32();
  reader.end();
  return count;
}
