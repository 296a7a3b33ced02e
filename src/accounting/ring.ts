// The hand-off of accounting records from the serving thread to the writer thread (workers/accounting-
// writer.ts): a ring in shared memory, one producer and one consumer. The serving thread writes each record
// as numbers and the raw strings it already has (no JSON, no escaping, no token parsing: the writer does
// those); the writer reads them at its own pace. A full ring drops the record (counted lost, its seq a gap).
//
// A record, 8-byte aligned, little-endian:
//   0 u32 bytes (0: a wrap marker, go on at 0)   4 u8 kind (1 http, 2 line)   5 u8 minor version | type
//   6 u16 status   8 f64 seq   16 f64 at (ms since the epoch)   24 f64 duration ms   32 f64 body bytes
//   40 i32 client port (-1 none)   44 u8 source   45 u8 which strings are present
//   48 strings, each u32 byte length then UTF-16LE (exact for any JS string, lone surrogates included, and
//      a copy to write): address, method, target, range, info hash
// A `line` record (peer wire, start, stop) has its JSON members after byte 24 as one string.
import type { ResponseEntry, ResponseSource } from '../http/index.ts';
import type { RecordType } from './record.ts';

/** Control words: where the producer wrote up to, where the consumer read up to, whether anyone follows. */
const WRITE = 0;
const READ = 1;
export const FOLLOWED = 2;

const KIND_HTTP = 1;
const KIND_LINE = 2;
const HTTP_HEAD = 48;
const LINE_HEAD = 24;
/** Kept free so that a full ring is told from an empty one. */
const GAP = 8;

export const RECORD_TYPES: readonly RecordType[] = ['http', 'wire', 'wire-interim', 'start', 'stop'];
const TYPE_CODE = new Map<RecordType, number>(RECORD_TYPES.map((type, code) => [type, code]));
const SOURCES: ReadonlyArray<ResponseSource | undefined> = [undefined, 'cache', 'disk', 'pull-through'];
const SOURCE_CODE = new Map<ResponseSource | undefined, number>(SOURCES.map((source, code) => [source, code]));

const HAS_ADDRESS = 1;
const HAS_RANGE = 2;
const HAS_INFO_HASH = 4;

/**
 * Buffer#write's argument checks cost twice the copy itself on this path (a CPU profile of
 * scripts/bench/http-hot-path.ts): Node's ucs2Write, where it is, writes at once.
 */
const ucs2Write = (Buffer.prototype as unknown as { ucs2Write?: (text: string, offset: number) => number }).ucs2Write;
function writeUtf16(bytes: Buffer, text: string, offset: number): number {
  return ucs2Write === undefined ? bytes.write(text, offset, 'utf16le') : ucs2Write.call(bytes, text, offset);
}

/** The shared memory of one ring: made by the producer, handed to the consumer's thread. */
export interface RingMemory {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function ringMemory(bytes: number): RingMemory {
  return { control: new SharedArrayBuffer(16), data: new SharedArrayBuffer(Math.ceil(bytes / 8) * 8) };
}

/** The serving thread's end. */
export class RingWriter {
  readonly #control: Int32Array;
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #size: number;
  /** Where the next record goes; published to the consumer after the record is in place. */
  #at = 0;

  constructor(memory: RingMemory) {
    this.#control = new Int32Array(memory.control);
    this.#view = new DataView(memory.data);
    this.#bytes = Buffer.from(memory.data);
    this.#size = memory.data.byteLength;
  }

  /** One HTTP response; false when the ring is full (the record is lost). */
  http(seq: number, at: number, entry: ResponseEntry): boolean {
    const { remoteAddress, method, target, range, infoHash } = entry;
    const most =
      HTTP_HEAD +
      20 +
      2 *
        ((remoteAddress?.length ?? 0) + method.length + target.length + (range?.length ?? 0) + (infoHash?.length ?? 0));
    const start = this.#reserve(most);
    if (start < 0) return false;
    const view = this.#view;
    view.setUint8(start + 4, KIND_HTTP);
    view.setUint8(start + 5, entry.minorVersion);
    view.setUint16(start + 6, entry.status, true);
    view.setFloat64(start + 8, seq, true);
    view.setFloat64(start + 16, at, true);
    view.setFloat64(start + 24, entry.durationMs, true);
    view.setFloat64(start + 32, entry.bodyBytes, true);
    view.setInt32(start + 40, entry.remotePort ?? -1, true);
    view.setUint8(start + 44, SOURCE_CODE.get(entry.source) ?? 0);
    view.setUint8(
      start + 45,
      (remoteAddress === undefined ? 0 : HAS_ADDRESS) |
        (range === undefined ? 0 : HAS_RANGE) |
        (infoHash === undefined ? 0 : HAS_INFO_HASH),
    );
    let at8 = start + HTTP_HEAD;
    at8 = this.#string(at8, remoteAddress ?? '');
    at8 = this.#string(at8, method);
    at8 = this.#string(at8, target);
    at8 = this.#string(at8, range ?? '');
    at8 = this.#string(at8, infoHash ?? '');
    this.#publish(start, at8);
    return true;
  }

  /** A record whose JSON members (after the common fields) are made already; false when the ring is full. */
  line(seq: number, at: number, type: RecordType, members: string): boolean {
    const start = this.#reserve(LINE_HEAD + 4 + 2 * members.length);
    if (start < 0) return false;
    this.#view.setUint8(start + 4, KIND_LINE);
    this.#view.setUint8(start + 5, TYPE_CODE.get(type) ?? 0);
    this.#view.setFloat64(start + 8, seq, true);
    this.#view.setFloat64(start + 16, at, true);
    this.#publish(start, this.#string(start + LINE_HEAD, members));
    return true;
  }

  /** Where a record of at most `most` bytes goes (a wrap marker written first if need be); -1: no room. */
  #reserve(most: number): number {
    const size = this.#size;
    const need = (most + 7) & ~7;
    const read = Atomics.load(this.#control, READ);
    const free = size - ((this.#at - read + size) % size) - GAP;
    if (this.#at + need <= size) return need <= free ? this.#at : -1;
    // It does not fit before the end: mark the rest as skipped and start over at 0.
    if (size - this.#at + need > free) return -1;
    this.#view.setUint32(this.#at, 0, true);
    this.#at = 0;
    return 0;
  }

  #string(at: number, text: string): number {
    const written = text.length === 0 ? 0 : writeUtf16(this.#bytes, text, at + 4);
    this.#view.setUint32(at, written, true);
    return at + 4 + written;
  }

  #publish(start: number, end: number): void {
    const length = (end - start + 7) & ~7;
    this.#view.setUint32(start, length, true);
    this.#at = (start + length) % this.#size;
    Atomics.store(this.#control, WRITE, this.#at);
  }
}

/** An HTTP response as the writer reads it back. */
export type RingHttp = Omit<ResponseEntry, 'minorVersion'> & { minorVersion: number };

/** The writer thread's end. */
export class RingReader {
  readonly #control: Int32Array;
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #size: number;

  constructor(memory: RingMemory) {
    this.#control = new Int32Array(memory.control);
    this.#view = new DataView(memory.data);
    this.#bytes = Buffer.from(memory.data);
    this.#size = memory.data.byteLength;
  }

  get followed(): boolean {
    return Atomics.load(this.#control, FOLLOWED) === 1;
  }

  /** Reads every record published so far, in order, then frees their room. Returns how many. */
  drain(
    onHttp: (seq: number, at: number, entry: RingHttp) => void,
    onLine: (seq: number, at: number, type: RecordType, members: string) => void,
  ): number {
    const view = this.#view;
    const end = Atomics.load(this.#control, WRITE);
    let at = Atomics.load(this.#control, READ);
    let count = 0;
    while (at !== end) {
      const length = view.getUint32(at, true);
      if (length === 0) {
        at = 0;
        continue;
      }
      const seq = view.getFloat64(at + 8, true);
      const time = view.getFloat64(at + 16, true);
      if (view.getUint8(at + 4) === KIND_LINE) {
        const type = RECORD_TYPES[view.getUint8(at + 5)] ?? 'http';
        onLine(seq, time, type, this.#string(at + LINE_HEAD).text);
      } else {
        const present = view.getUint8(at + 45);
        const address = this.#string(at + HTTP_HEAD);
        const method = this.#string(address.next);
        const target = this.#string(method.next);
        const range = this.#string(target.next);
        const infoHash = this.#string(range.next);
        const port = view.getInt32(at + 40, true);
        onHttp(seq, time, {
          remoteAddress: present & HAS_ADDRESS ? address.text : undefined,
          remotePort: port < 0 ? undefined : port,
          method: method.text,
          target: target.text,
          infoHash: present & HAS_INFO_HASH ? infoHash.text : undefined,
          minorVersion: view.getUint8(at + 5),
          range: present & HAS_RANGE ? range.text : undefined,
          status: view.getUint16(at + 6, true),
          bodyBytes: view.getFloat64(at + 32, true),
          durationMs: view.getFloat64(at + 24, true),
          source: SOURCES[view.getUint8(at + 44)],
        });
      }
      at = (at + length) % this.#size;
      count += 1;
    }
    Atomics.store(this.#control, READ, at);
    return count;
  }

  #string(at: number): { text: string; next: number } {
    const length = this.#view.getUint32(at, true);
    return {
      text: length === 0 ? '' : this.#bytes.toString('utf16le', at + 4, at + 4 + length),
      next: at + 4 + length,
    };
  }
}
