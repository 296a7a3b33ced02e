// The accounting line of an HTTP response, made by the writer thread (workers/accounting-writer.ts) straight
// into the bytes it writes, from the ring's record (ring.ts). What repeats is made once: the members of
// each slotted string (`,"c-ip":"..."`, `,"u-uri":"..."` with the token redacted, the token's subscriber
// and key id) when its slot is taken, the run and date part once a second; per record only numbers and the
// Range field are written, byte by byte. Building a string per line and encoding it (UTF-16 strings from
// the ring into UTF-8) was most of the writer's own cost. The line leaves out `run`, `agent` and
// `"type":"http"` (same for every HTTP record of a run in a file: ~60 of ~410 bytes, and the file's bytes
// cost the kernel more than the formatting); readers take them from the line above that names them
// (record.ts, RecordLineReader). It leaves out `s-ccid` too when `u-uri` names the same info hash
// (/objects/<hash>/..., /pieces/<hash>/...: another 50 bytes); readers take it from there.
import { parseToken, TOKEN_NAME } from '../auth/index.ts';
import type { LineBuffers } from './line-buffers.ts';
import { dateTime, uriInfoHash } from './record.ts';
import { ADDRESS, type HttpRecordView, INFO_HASH, METHOD, SLOTS, SOURCES, TARGET } from './ring.ts';

/** Characters a JSON string must escape (and lone surrogates, which JSON.stringify escapes too). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

export function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

const ascii = (text: string): Buffer => Buffer.from(text, 'utf8');
const SEQ = ascii('{"seq":');
const TIME_TAKEN = ascii('","time-taken":');
const C_PORT = ascii(',"c-port":');
const PROTOCOL_STATUS = [ascii(',"protocol":"HTTP/1.0","sc-status":'), ascii(',"protocol":"HTTP/1.1","sc-status":')];
const ENTITY_BYTES = ascii(',"sc-entity-bytes":');
const RANGE = ascii(',"cs(range)":"');
const SOURCE = SOURCES.map((source) => ascii(source === undefined ? '' : `,"source":"${source}"`));
const END = ascii('}\n');
const EMPTY = Buffer.alloc(0);
/** Bytes a record's line takes beyond its slotted members and its range: numbers and constant runs. */
const FIXED_MOST = 512;

/** What a slot's string becomes in the line, made when the slot is taken. */
interface SlotBytes {
  text: string;
  members: Buffer;
  /** ADDRESS only: members then `,"c-port":`. */
  membersPort: Buffer;
  /** TARGET only: `,"subscriber":..,"token-key":..` of its token, after `s-ccid`. */
  tail: Buffer;
  /** TARGET only: the info hash its path names, which the line then leaves out; else ''. */
  infoHash: string;
}

export class HttpLineFormatter {
  /** Per field and slot. */
  readonly #slots: SlotBytes[][] = Array.from({ length: 4 }, () =>
    Array.from({ length: SLOTS }, () => ({ text: '', members: EMPTY, membersPort: EMPTY, tail: EMPTY, infoHash: '' })),
  );
  #lastMiddle = { method: ABSENT, target: ABSENT, minor: 0, bytes: EMPTY };
  #lastEnd = { source: -1, infoHash: ABSENT, target: ABSENT, bytes: EMPTY };
  #second = -1;
  /** `,"date":"YYYY-MM-DD","time":"HH:MM:SS.` of #second. */
  #head: Buffer = EMPTY;

  /** Appends the record's line to `queue`. */
  write(record: HttpRecordView, queue: LineBuffers): void {
    const address = this.#slot(record, ADDRESS);
    const method = this.#slot(record, METHOD);
    const target = this.#slot(record, TARGET);
    const infoHash = this.#slot(record, INFO_HASH);
    const second = Math.floor(record.at / 1000);
    if (second !== this.#second) this.#newSecond(second);
    const head = this.#head;
    const rangeUnits = record.rangeAt < 0 ? 0 : record.rangeBytes >> 1;
    const most =
      FIXED_MOST +
      head.length +
      address.membersPort.length +
      method.members.length +
      target.members.length +
      target.tail.length +
      infoHash.members.length +
      6 * rangeUnits;
    const out = queue.reserve(most);
    let pos = queue.pos;
    pos = put(out, pos, SEQ);
    pos = putNumber(out, pos, record.seq);
    pos = put(out, pos, head);
    const milli = record.at - second * 1000;
    pos = putDigits3(out, pos, Math.floor(milli));
    pos = put(out, pos, TIME_TAKEN);
    pos = putThousandths(out, pos, record.durationMs);
    if (record.port >= 0) {
      pos = put(out, pos, address.membersPort);
      pos = putNumber(out, pos, record.port);
    } else pos = put(out, pos, address.members);
    pos = put(out, pos, this.#middle(method, target, record.minorVersion === 1 ? 1 : 0));
    pos = putNumber(out, pos, record.status);
    pos = put(out, pos, ENTITY_BYTES);
    pos = putNumber(out, pos, record.bodyBytes);
    if (record.rangeAt >= 0) pos = putRange(out, pos, record);
    pos = put(out, pos, this.#end(record.source, infoHash, target));
    queue.commit(pos);
  }

  /** `,"cs-method":..,"u-uri":..,"protocol":..,"sc-status":` as the last record had it, or made anew. */
  #middle(method: SlotBytes, target: SlotBytes, minor: 0 | 1): Buffer {
    const last = this.#lastMiddle;
    if (last.method === method && last.target === target && last.minor === minor) return last.bytes;
    const bytes = Buffer.concat([method.members, target.members, PROTOCOL_STATUS[minor] as Buffer]);
    this.#lastMiddle = { method, target, minor, bytes };
    return bytes;
  }

  /** `,"source":..,"s-ccid":..,"subscriber":..,"token-key":..}\n` as the last record had it, or made anew. */
  #end(source: number, infoHash: SlotBytes, target: SlotBytes): Buffer {
    const last = this.#lastEnd;
    if (last.source === source && last.infoHash === infoHash && last.target === target) return last.bytes;
    // The info hash the URI names goes without saying (RecordLineReader puts it back).
    const named = infoHash.text !== '' && infoHash.text === target.infoHash;
    const bytes = Buffer.concat([SOURCE[source] ?? EMPTY, named ? EMPTY : infoHash.members, target.tail, END]);
    this.#lastEnd = { source, infoHash, target, bytes };
    return bytes;
  }

  /** The slot's bytes, made anew when the slot took a new string. */
  #slot(record: HttpRecordView, field: number): SlotBytes {
    const slot = record.slots[field] as number;
    if (slot < 0) return ABSENT;
    const text = (record.texts[field] as string[])[slot] as string;
    const known = (this.#slots[field] as SlotBytes[])[slot] as SlotBytes;
    if (known.text === text && known.members !== EMPTY) return known;
    const made = slotBytes(field, text);
    (this.#slots[field] as SlotBytes[])[slot] = made;
    return made;
  }

  #newSecond(second: number): void {
    const { date, time } = dateTime(second * 1000);
    this.#second = second;
    this.#head = ascii(`,"date":"${date}","time":"${time.slice(0, 9)}`);
  }
}

const ABSENT: SlotBytes = { text: '', members: EMPTY, membersPort: C_PORT, tail: EMPTY, infoHash: '' };

function slotBytes(field: number, text: string): SlotBytes {
  const plain = (members: string): SlotBytes => ({
    text,
    members: ascii(members),
    membersPort: EMPTY,
    tail: EMPTY,
    infoHash: '',
  });
  if (field === ADDRESS) {
    const members = `,"c-ip":${jsonString(text)}`;
    return { text, members: ascii(members), membersPort: ascii(`${members},"c-port":`), tail: EMPTY, infoHash: '' };
  }
  if (field === METHOD) return plain(`,"cs-method":${jsonString(text)}`);
  if (field === INFO_HASH) return plain(`,"s-ccid":${jsonString(text)}`);
  const token = tokenOf(text);
  const members = ascii(`,"u-uri":${jsonString(token === undefined ? text : redact(text))}`);
  const infoHash = uriInfoHash(text) ?? '';
  if (token === undefined) return { text, members, membersPort: EMPTY, tail: EMPTY, infoHash };
  const claims = parseToken(token);
  let tail = '';
  if (claims?.subscriber !== undefined) tail += `,"subscriber":${jsonString(claims.subscriber)}`;
  if (claims !== null) tail += `,"token-key":${jsonString(claims.keyId)}`;
  return { text, members, membersPort: EMPTY, tail: tail === '' ? EMPTY : ascii(tail), infoHash };
}

/** Copies `bytes` to `out` at `pos`: a loop for short runs (a native call costs more than it copies). */
function put(out: Buffer, pos: number, bytes: Buffer): number {
  const length = bytes.length;
  if (length > 8) {
    out.set(bytes, pos);
    return pos + length;
  }
  for (let i = 0; i < length; i += 1) out[pos + i] = bytes[i] as number;
  return pos + length;
}

/** A number as JSON writes it: digits for a whole number below 2^53 (in int32 steps below 2^31), else its String(). */
function putNumber(out: Buffer, pos: number, value: number): number {
  if (value >= 0 && value < 2147483648 && (value | 0) === value) {
    let rest = value | 0;
    const digits =
      rest < 10 ? 1 : rest < 100 ? 2 : rest < 1000 ? 3 : rest < 10000 ? 4 : rest < 100000 ? 5 : decimalDigits(rest);
    for (let i = pos + digits - 1; i > pos; i -= 1) {
      const next = (rest / 10) | 0;
      out[i] = 48 + rest - next * 10;
      rest = next;
    }
    out[pos] = 48 + rest;
    return pos + digits;
  }
  if (!(value >= 0 && value <= Number.MAX_SAFE_INTEGER) || Math.floor(value) !== value) {
    return pos + out.write(String(value), pos, 'latin1');
  }
  const digits = decimalDigits(value);
  let rest = value;
  for (let i = pos + digits - 1; i >= pos; i -= 1) {
    const next = Math.floor(rest / 10);
    out[i] = 48 + (rest - next * 10);
    rest = next;
  }
  return pos + digits;
}

function decimalDigits(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits += 1;
  return digits;
}

function putDigits3(out: Buffer, pos: number, value: number): number {
  out[pos] = 48 + Math.floor(value / 100);
  out[pos + 1] = 48 + (Math.floor(value / 10) % 10);
  out[pos + 2] = 48 + (value % 10);
  return pos + 3;
}

/**
 * Milliseconds as seconds rounded to three decimals, as String() writes Math.round(ms) / 1000: the whole
 * seconds, then the thousandths without trailing zeros.
 */
function putThousandths(out: Buffer, pos: number, ms: number): number {
  const thousandths = Math.round((ms / 1000) * 1000);
  if (!(thousandths >= 0 && thousandths <= Number.MAX_SAFE_INTEGER)) {
    return pos + out.write(String(thousandths / 1000), pos, 'latin1');
  }
  const whole = Math.floor(thousandths / 1000);
  let fraction = thousandths - whole * 1000;
  let at = putNumber(out, pos, whole);
  if (fraction === 0) return at;
  out[at] = 46; /* . */
  at += 1;
  for (let unit = 100; fraction > 0; unit /= 10) {
    const digit = Math.floor(fraction / unit);
    out[at] = 48 + digit;
    at += 1;
    fraction -= digit * unit;
  }
  return at;
}

/**
 * `,"cs(range)":"..."` from the ring's bytes (Latin-1 or UTF-16LE): printable ASCII as it is (a Range field
 * is, but for a client's mistake); anything JSON escapes or UTF-8 encodes in more bytes goes through
 * jsonString.
 */
function putRange(out: Buffer, pos: number, record: HttpRecordView): number {
  const bytes = record.bytes;
  const start = record.rangeAt;
  const end = start + record.rangeBytes;
  const step = record.rangeLatin1 ? 1 : 2;
  let at = put(out, pos, RANGE);
  for (let i = start; i < end; i += step) {
    const unit = step === 1 ? (bytes[i] as number) : (bytes[i] as number) | ((bytes[i + 1] as number) << 8);
    if (unit < 0x20 || unit > 0x7e || unit === 0x22 || unit === 0x5c) {
      at = put(out, pos, RANGE);
      // The opening quote is jsonString's.
      return at - 1 + out.write(jsonString(record.range() as string), at - 1, 'utf8');
    }
    out[at] = unit;
    at += 1;
  }
  out[at] = 34; /* " */
  return at + 1;
}

/** The signed URL token in a target's query, if any. */
function tokenOf(target: string): string | undefined {
  const q = target.indexOf('?');
  if (q < 0) return undefined;
  const at = target.indexOf(`${TOKEN_NAME}=`, q);
  if (at < 0) return undefined;
  const end = target.indexOf('&', at);
  const raw = target.slice(at + TOKEN_NAME.length + 1, end < 0 ? target.length : end);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function redact(target: string): string {
  const at = target.indexOf(`${TOKEN_NAME}=`);
  const end = target.indexOf('&', at);
  return `${target.slice(0, at + TOKEN_NAME.length + 1)}-${end < 0 ? '' : target.slice(end)}`;
}
