// One accounting record: a JSON line per HTTP response and per peer-wire session (interim records for long
// sessions), for charging. Field names are CDNI logging's (RFC 7937 section 4.1.1) where one fits; the
// rest are ours, spelled alike.
//   date, time         UTC, when the response ended or the session (part) ended: YYYY-MM-DD, HH:MM:SS.sss
//   time-taken         seconds, decimal: the response's, or this part of the session's
//   c-ip, c-port       the client
//   cs-method, u-uri   HTTP method and URI (any token replaced by "-"); absent for the peer wire
//   protocol           HTTP/1.1, HTTP/1.0, or BitTorrent
//   sc-status          HTTP status; for the peer wire 0
//   sc-entity-bytes    content bytes sent to the client in this record (the body; piece payload)
//   cs(range)          the Range field as sent, for HTTP
//   s-ccid             the content collection: here the object's info hash
// and ours: seq (per run, from 1, no gaps on disk), run (this agent run's id), agent, type (http, wire,
// wire-interim, start, stop; an HTTP record's line leaves out run, agent and type: see RecordLineReader), pieces (peer wire: pieces of which bytes were sent, as ranges "0-3,7"),
// subscriber and token-key (from the signed URL token), source (http: 'disk' when bytes were read from
// disk for it, else 'cache').

export type RecordType = 'http' | 'wire' | 'wire-interim' | 'start' | 'stop';

export interface AccountingRecord {
  seq: number;
  run: string;
  agent: string;
  type: RecordType;
  date: string;
  time: string;
  'time-taken'?: number;
  'c-ip'?: string;
  'c-port'?: number;
  'cs-method'?: string;
  'u-uri'?: string;
  protocol?: string;
  'sc-status'?: number;
  'sc-entity-bytes'?: number;
  'cs(range)'?: string;
  's-ccid'?: string;
  pieces?: string;
  subscriber?: string;
  'token-key'?: string;
  /** http: where the body's bytes came from, the worst of its pieces: cache (memory), disk, pull-through. */
  source?: 'cache' | 'disk' | 'pull-through';
  /** stop: the last seq of the run (every record up to it was written). */
  'last-seq'?: number;
}

/** What a caller hands over; seq, run, agent, date and time are the log's. */
export type RecordInput = Omit<AccountingRecord, 'seq' | 'run' | 'agent' | 'date' | 'time'>;

/** `date` and `time` of RFC 7937 for a moment (ms since the epoch). */
export function dateTime(at: number): { date: string; time: string } {
  const iso = new Date(at).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 23) };
}

/**
 * `"date":"YYYY-MM-DD","time":"HH:MM:SS.sss"` of a moment, as JSON members. The part up to the second is
 * made once a second: a record is added per response, and toISOString() per record was a tenth of its cost.
 */
export class DateTimeFields {
  #second = -1;
  #prefix = '';

  at(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      const { date, time } = dateTime(second * 1000);
      this.#second = second;
      this.#prefix = `"date":"${date}","time":"${time.slice(0, 9)}`;
    }
    const milli = ms - second * 1000;
    return `${this.#prefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}"`;
  }
}

/** Ms since the epoch of a record's date and time. */
export function recordMoment(record: Pick<AccountingRecord, 'date' | 'time'>): number {
  return Date.parse(`${record.date}T${record.time}Z`);
}

/**
 * The members an HTTP record's line leaves out, as they stand after its `{"seq":N,` in the record read back
 * (and in the lines streamed to followers).
 */
export function httpLineMembers(run: string, agent: string): string {
  return `"run":${JSON.stringify(run)},"agent":${JSON.stringify(agent)},"type":"http",`;
}

/** The header line a run writes first in a file it did not start empty (a rotation, or another run's file). */
export function fileHeaderLine(run: string, agent: string): string {
  return `{"run":${JSON.stringify(run)},"agent":${JSON.stringify(agent)}}\n`;
}

/** The info hash an object or piece URI names (/objects/<hash>/..., /pieces/<hash>/...), if any. */
const URI_INFO_HASH = /^\/(?:objects|pieces)\/([0-9a-f]{40})(?:[/?]|$)/;
export function uriInfoHash(uri: string): string | undefined {
  return URI_INFO_HASH.exec(uri)?.[1];
}

/** In a line's text: the u-uri member of an object or piece URI, its info hash the first group. */
const LINE_URI_INFO_HASH = /,"u-uri":"\/(?:objects|pieces)\/([0-9a-f]{40})[/?"]/;
/** In a line's text: the members that follow s-ccid (from a token), or the line's end. */
const AFTER_S_CCID = /,"subscriber":"|,"token-key":"|\}\n?$/;

/**
 * Reads a file's lines back into records, in order. An HTTP record's line leaves out `run`, `agent` and
 * `"type":"http"` (~60 of ~410 bytes, the same for every HTTP record of a run): they are those of the nearest
 * line above it in the file that has `run`: a record of another type (a run's `start` comes first) or a
 * header line `{"run":..,"agent":..}` (no `seq`: not a record) written at the top of a file the run
 * rotated to or appended to. It leaves out `s-ccid` when its `u-uri` names that info hash. Records read
 * back have every member, in the order they had when written whole.
 */
export class RecordLineReader {
  #run: string | undefined;
  #agent: string | undefined;

  /** The line's record; 'header' for a header line; null when the line is neither (a line cut short). */
  read(line: string): AccountingRecord | 'header' | null {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return null;
    }
    if (parsed === null || typeof parsed !== 'object') return null;
    const { seq, run, agent } = parsed;
    if (typeof run === 'string') {
      this.#run = run;
      this.#agent = typeof agent === 'string' ? agent : '';
      if (seq === undefined) return 'header';
      return typeof seq === 'number' ? (parsed as unknown as AccountingRecord) : null;
    }
    if (typeof seq !== 'number' || this.#run === undefined) return null;
    const record: Record<string, unknown> = { seq, run: this.#run, agent: this.#agent, type: 'http' };
    const uri = parsed['u-uri'];
    let hash = parsed['s-ccid'] === undefined && typeof uri === 'string' ? uriInfoHash(uri) : undefined;
    for (const key in parsed) {
      if (key === 'seq') continue;
      if (hash !== undefined && (key === 'subscriber' || key === 'token-key')) {
        record['s-ccid'] = hash;
        hash = undefined;
      }
      record[key] = parsed[key];
    }
    if (hash !== undefined) record['s-ccid'] = hash;
    return record as unknown as AccountingRecord;
  }
}

/**
 * `text`'s lines (whole lines of one run) with what HTTP records' lines leave out put back after each one's
 * `{"seq":N,`: the bytes JSON.stringify makes of the record read back (for the admin API's stream).
 */
export function wholeLines(text: string, members: string): string {
  let out = '';
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    end = end < 0 ? text.length : end + 1;
    const comma = text.indexOf(',', start);
    if (comma > 0 && comma < end && !text.startsWith('"run":', comma + 1)) {
      out += `${text.slice(start, comma + 1)}${members}${withInfoHash(text.slice(comma + 1, end))}`;
    } else out += text.slice(start, end);
    start = end;
  }
  return out;
}

/** An HTTP line's text with the s-ccid it left out (its u-uri names it) put back in its place. */
function withInfoHash(line: string): string {
  if (line.includes(',"s-ccid":"')) return line;
  const hash = LINE_URI_INFO_HASH.exec(line)?.[1];
  if (hash === undefined) return line;
  const at = AFTER_S_CCID.exec(line)?.index ?? line.length;
  return `${line.slice(0, at)},"s-ccid":"${hash}"${line.slice(at)}`;
}
