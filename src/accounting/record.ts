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
// wire-interim, start, stop), pieces (peer wire: pieces of which bytes were sent, as ranges "0-3,7"),
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
