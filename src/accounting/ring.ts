// The hand-off of accounting records from the serving thread to the writer thread (workers/accounting-
// writer.ts): a ring in shared memory, one producer and one consumer. The serving thread writes each record
// as numbers, and the strings it has as small slot numbers: the address, method, target and info hash of a
// response are mostly those of one of the last few responses (a client asks one URL for many ranges), so
// each of those fields keeps SLOTS recent strings on both ends, and a string crosses the ring only when it
// takes a slot. No JSON, no escaping, no token parsing here: the writer does those, once per slot.
// A full ring drops the record (counted lost, its seq a gap).
//
// A record, 8-byte aligned, little-endian:
//   0 u32 bytes (0: a wrap marker, go on at 0)   4 u8 kind (1 http, 2 line)   5 u8 minor version | type
//   6 u16 status   8 f64 seq   16 f64 at (ms since the epoch)   24 f64 duration ms   32 f64 body bytes
//   40 i32 client port (-1 none)   44 u8 source   45 u8 range: 0 none, 1 UTF-16LE, 2 Latin-1
//   48..51 u8 slot of the address, method, target, info hash: NONE (absent), a slot, or a slot | NEW
//   56 strings, each u32 byte length then UTF-16LE (exact for any JS string, lone surrogates included, and
//      a copy to write): the strings that take a slot in this record (in field order), then the range,
//      one byte a character when each is below 256 (as the HTTP/1.1 layer reads a field: Latin-1)
// The fixed fields go through typed arrays over the same memory (a DataView call per field cost more than
// the record's strings); on a big-endian host, through the DataView.
// A `line` record (peer wire, start, stop) has its JSON members after byte 24 as one string.
import { endianness } from 'node:os';
import type { ResponseEntry, ResponseSource } from '../http/index.ts';
import type { RecordType } from './record.ts';

/** Control words: where the producer wrote up to, where the consumer read up to, whether anyone follows. */
const WRITE = 0;
const READ = 1;
export const FOLLOWED = 2;

const KIND_HTTP = 1;
const KIND_LINE = 2;
const HTTP_HEAD = 56;
const LINE_HEAD = 24;
/** Kept free so that a full ring is told from an empty one. */
const GAP = 8;

const LITTLE_ENDIAN = endianness() === 'LE';
const RANGE_NONE = 0;
const RANGE_UTF16 = 1;
const RANGE_LATIN1 = 2;

/** Recent strings kept per field; a record names one by its slot. */
export const SLOTS = 8;
/** The field is absent (an entry without an address or an info hash). */
const NONE = 0x7f;
/** The slot takes the string that follows in this record. */
const NEW = 0x80;
/** The slotted fields, in the order of their bytes at 48 and of their strings. */
export const ADDRESS = 0;
export const METHOD = 1;
export const TARGET = 2;
export const INFO_HASH = 3;
const FIELDS = 4;

export const RECORD_TYPES: readonly RecordType[] = ['http', 'wire', 'wire-interim', 'start', 'stop'];
const TYPE_CODE = new Map<RecordType, number>(RECORD_TYPES.map((type, code) => [type, code]));
export const SOURCES: ReadonlyArray<ResponseSource | undefined> = [undefined, 'cache', 'disk', 'pull-through'];

function sourceCode(source: ResponseSource | undefined): number {
  return source === 'cache' ? 1 : source === 'disk' ? 2 : source === 'pull-through' ? 3 : 0;
}

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

/** The producer's recent strings of one field: which slot holds a string, or which slot it takes now. */
class RecentStrings {
  readonly #texts: Array<string | null> = new Array<string | null>(SLOTS).fill(null);
  #last = 0;
  #next = 0;

  /** The slot holding `text`, or the slot it takes now | NEW. */
  slot(text: string): number {
    const texts = this.#texts;
    // The last one asked first: equal strings of one length compare in a memcmp, others by their length.
    if (texts[this.#last] === text) return this.#last;
    for (let i = 0; i < SLOTS; i += 1) {
      if (texts[i] === text) {
        this.#last = i;
        return i;
      }
    }
    const slot = this.#next;
    this.#next = (slot + 1) % SLOTS;
    texts[slot] = text;
    this.#last = slot;
    return slot | NEW;
  }

  /** After a record that took a slot was dropped: the consumer never saw it, so every slot is taken anew. */
  clear(): void {
    this.#texts.fill(null);
  }
}

/** The serving thread's end. */
export class RingWriter {
  readonly #control: Int32Array;
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #u16: Uint16Array;
  readonly #i32: Int32Array;
  readonly #f64: Float64Array;
  readonly #size: number;
  readonly #recent: RecentStrings[] = Array.from({ length: FIELDS }, () => new RecentStrings());
  /** Where the next record goes; published to the consumer after the record is in place. */
  #at = 0;

  readonly #littleEndian: boolean;

  /** `littleEndian`: the host's byte order, unless a test asks for the DataView path. */
  constructor(memory: RingMemory, littleEndian = LITTLE_ENDIAN) {
    this.#littleEndian = littleEndian;
    this.#control = new Int32Array(memory.control);
    this.#view = new DataView(memory.data);
    this.#bytes = Buffer.from(memory.data);
    this.#u16 = new Uint16Array(memory.data);
    this.#i32 = new Int32Array(memory.data);
    this.#f64 = new Float64Array(memory.data);
    this.#size = memory.data.byteLength;
  }

  /** One HTTP response; false when the ring is full (the record is lost). */
  http(seq: number, at: number, entry: ResponseEntry): boolean {
    return this.#littleEndian ? this.#httpLE(seq, at, entry) : this.#httpView(seq, at, entry);
  }

  #httpLE(seq: number, at: number, entry: ResponseEntry): boolean {
    const { remoteAddress, method, target, range, infoHash } = entry;
    const recent = this.#recent;
    const addressSlot = remoteAddress === undefined ? NONE : (recent[ADDRESS] as RecentStrings).slot(remoteAddress);
    const methodSlot = (recent[METHOD] as RecentStrings).slot(method);
    const targetSlot = (recent[TARGET] as RecentStrings).slot(target);
    const hashSlot = infoHash === undefined ? NONE : (recent[INFO_HASH] as RecentStrings).slot(infoHash);
    let most = HTTP_HEAD + 24 + 2 * (range?.length ?? 0);
    const fresh = (addressSlot | methodSlot | targetSlot | hashSlot) & NEW;
    if (fresh !== 0) {
      if (addressSlot & NEW) most += 8 + 2 * (remoteAddress as string).length;
      if (methodSlot & NEW) most += 8 + 2 * method.length;
      if (targetSlot & NEW) most += 8 + 2 * target.length;
      if (hashSlot & NEW) most += 8 + 2 * (infoHash as string).length;
    }
    const start = this.#reserve(most);
    if (start < 0) {
      if (fresh !== 0) for (const field of recent) field.clear();
      return false;
    }
    const bytes = this.#bytes;
    const f64 = this.#f64;
    const word = start >> 2;
    const double = start >> 3;
    bytes[start + 4] = KIND_HTTP;
    bytes[start + 5] = entry.minorVersion;
    this.#u16[(start >> 1) + 3] = entry.status;
    f64[double + 1] = seq;
    f64[double + 2] = at;
    f64[double + 3] = entry.durationMs;
    f64[double + 4] = entry.bodyBytes;
    this.#i32[word + 10] = entry.remotePort ?? -1;
    bytes[start + 44] = sourceCode(entry.source);
    bytes[start + 48] = addressSlot;
    bytes[start + 49] = methodSlot;
    bytes[start + 50] = targetSlot;
    bytes[start + 51] = hashSlot;
    let next = start + HTTP_HEAD;
    if (fresh !== 0) {
      if (addressSlot & NEW) next = this.#string(next, remoteAddress as string);
      if (methodSlot & NEW) next = this.#string(next, method);
      if (targetSlot & NEW) next = this.#string(next, target);
      if (hashSlot & NEW) next = this.#string(next, infoHash as string);
    }
    if (range === undefined) bytes[start + 45] = RANGE_NONE;
    else next = this.#range(start, next, range);
    this.#publish(start, next);
    return true;
  }

  /**
   * The range at `at`: a byte a character, copied here (a native call costs more than the copy of ~20
   * characters), or UTF-16LE if a character is above 255.
   */
  #range(start: number, at: number, range: string): number {
    const bytes = this.#bytes;
    const length = range.length;
    const first = at + 4;
    for (let i = 0; i < length; i += 1) {
      const code = range.charCodeAt(i);
      if (code > 0xff) {
        bytes[start + 45] = RANGE_UTF16;
        return this.#string(at, range);
      }
      bytes[first + i] = code;
    }
    bytes[start + 45] = RANGE_LATIN1;
    this.#i32[at >> 2] = length;
    return first + length;
  }

  /** http() through the DataView: the same bytes, for a big-endian host. */
  #httpView(seq: number, at: number, entry: ResponseEntry): boolean {
    const { remoteAddress, method, target, range, infoHash } = entry;
    const recent = this.#recent;
    const addressSlot = remoteAddress === undefined ? NONE : (recent[ADDRESS] as RecentStrings).slot(remoteAddress);
    const methodSlot = (recent[METHOD] as RecentStrings).slot(method);
    const targetSlot = (recent[TARGET] as RecentStrings).slot(target);
    const hashSlot = infoHash === undefined ? NONE : (recent[INFO_HASH] as RecentStrings).slot(infoHash);
    let most = HTTP_HEAD + 24 + 2 * (range?.length ?? 0);
    if (addressSlot & NEW) most += 8 + 2 * (remoteAddress as string).length;
    if (methodSlot & NEW) most += 8 + 2 * method.length;
    if (targetSlot & NEW) most += 8 + 2 * target.length;
    if (hashSlot & NEW) most += 8 + 2 * (infoHash as string).length;
    const start = this.#reserve(most);
    if (start < 0) {
      if ((addressSlot | methodSlot | targetSlot | hashSlot) & NEW) for (const field of recent) field.clear();
      return false;
    }
    const view = this.#view;
    view.setUint8(start + 4, KIND_HTTP);
    view.setUint8(start + 5, entry.minorVersion);
    view.setUint16(start + 6, entry.status, true);
    view.setFloat64(start + 8, seq, true);
    view.setFloat64(start + 16, at, true);
    view.setFloat64(start + 24, entry.durationMs, true);
    view.setFloat64(start + 32, entry.bodyBytes, true);
    view.setInt32(start + 40, entry.remotePort ?? -1, true);
    view.setUint8(start + 44, sourceCode(entry.source));
    view.setUint8(start + 45, range === undefined ? RANGE_NONE : RANGE_UTF16);
    view.setUint8(start + 48, addressSlot);
    view.setUint8(start + 49, methodSlot);
    view.setUint8(start + 50, targetSlot);
    view.setUint8(start + 51, hashSlot);
    let at8 = start + HTTP_HEAD;
    if (addressSlot & NEW) at8 = this.#string(at8, remoteAddress as string);
    if (methodSlot & NEW) at8 = this.#string(at8, method);
    if (targetSlot & NEW) at8 = this.#string(at8, target);
    if (hashSlot & NEW) at8 = this.#string(at8, infoHash as string);
    if (range !== undefined) at8 = this.#string(at8, range);
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

  /** A string's length and UTF-16LE at `at`; where the next one goes (4-aligned, for the length's word). */
  #string(at: number, text: string): number {
    const written = text.length === 0 ? 0 : writeUtf16(this.#bytes, text, at + 4);
    this.#view.setUint32(at, written, true);
    return (at + 4 + written + 3) & ~3;
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

/**
 * One HTTP record as read, reused from record to record (nothing is made per record): its numbers, the
 * strings of its slotted fields (the consumer's own copies, made once per slot), and where its range lies
 * in the ring's bytes (UTF-16LE) for the formatter to copy from.
 */
export class HttpRecordView {
  seq = 0;
  at = 0;
  durationMs = 0;
  bodyBytes = 0;
  status = 0;
  minorVersion = 0;
  /** -1: none. */
  port = -1;
  /** Index into SOURCES. */
  source = 0;
  /** Per slotted field: the slot, or -1 when the field is absent. */
  readonly slots: number[] = [-1, -1, -1, -1];
  /** Per slotted field and slot: its string (each replaced by a new string when the slot is taken anew). */
  readonly texts: string[][] = Array.from({ length: FIELDS }, () => new Array<string>(SLOTS).fill(''));
  /** The ring's bytes, and where the range lies in them (rangeAt -1: no range), UTF-16LE or Latin-1. */
  bytes: Buffer;
  rangeAt = -1;
  rangeBytes = 0;
  rangeLatin1 = false;

  constructor(bytes: Buffer) {
    this.bytes = bytes;
  }

  text(field: number): string | undefined {
    const slot = this.slots[field] as number;
    return slot < 0 ? undefined : (this.texts[field] as string[])[slot];
  }

  range(): string | undefined {
    if (this.rangeAt < 0) return undefined;
    return this.bytes.toString(this.rangeLatin1 ? 'latin1' : 'utf16le', this.rangeAt, this.rangeAt + this.rangeBytes);
  }

  /** The record as an entry: every string decoded (for tests and a slow path). */
  entry(): RingHttp {
    const range = this.range();
    const source = SOURCES[this.source];
    return {
      remoteAddress: this.text(ADDRESS),
      remotePort: this.port < 0 ? undefined : this.port,
      method: this.text(METHOD) as string,
      target: this.text(TARGET) as string,
      infoHash: this.text(INFO_HASH),
      minorVersion: this.minorVersion,
      range,
      status: this.status,
      bodyBytes: this.bodyBytes,
      durationMs: this.durationMs,
      ...(source === undefined ? {} : { source }),
    };
  }
}

/** The writer thread's end. */
export class RingReader {
  readonly #control: Int32Array;
  readonly #view: DataView;
  readonly #bytes: Buffer;
  readonly #size: number;
  readonly #record: HttpRecordView;

  constructor(memory: RingMemory) {
    this.#control = new Int32Array(memory.control);
    this.#view = new DataView(memory.data);
    this.#bytes = Buffer.from(memory.data);
    this.#size = memory.data.byteLength;
    this.#record = new HttpRecordView(this.#bytes);
  }

  get followed(): boolean {
    return Atomics.load(this.#control, FOLLOWED) === 1;
  }

  /**
   * Reads every record published so far, in order, then frees their room. Returns how many. An HTTP
   * record is handed over as the one reused view: read what is needed before the callback returns.
   */
  drain(
    onHttp: (record: HttpRecordView) => void,
    onLine: (seq: number, at: number, type: RecordType, members: string) => void,
  ): number {
    const view = this.#view;
    const record = this.#record;
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
        onLine(seq, time, type, this.#string(at + LINE_HEAD));
      } else {
        record.seq = seq;
        record.at = time;
        record.minorVersion = view.getUint8(at + 5);
        record.status = view.getUint16(at + 6, true);
        record.durationMs = view.getFloat64(at + 24, true);
        record.bodyBytes = view.getFloat64(at + 32, true);
        record.port = view.getInt32(at + 40, true);
        record.source = view.getUint8(at + 44);
        let next = at + HTTP_HEAD;
        for (let field = 0; field < FIELDS; field += 1) {
          const code = view.getUint8(at + 48 + field);
          if (code === NONE) {
            record.slots[field] = -1;
            continue;
          }
          const slot = code & ~NEW;
          record.slots[field] = slot;
          if (code & NEW) {
            (record.texts[field] as string[])[slot] = this.#string(next);
            next = (next + 4 + view.getUint32(next, true) + 3) & ~3;
          }
        }
        const range = view.getUint8(at + 45);
        if (range === RANGE_NONE) record.rangeAt = -1;
        else {
          record.rangeBytes = view.getUint32(next, true);
          record.rangeAt = next + 4;
          record.rangeLatin1 = range === RANGE_LATIN1;
        }
        onHttp(record);
      }
      at = (at + length) % this.#size;
      count += 1;
    }
    Atomics.store(this.#control, READ, at);
    return count;
  }

  #string(at: number): string {
    const length = this.#view.getUint32(at, true);
    return length === 0 ? '' : this.#bytes.toString('utf16le', at + 4, at + 4 + length);
  }
}
