// Sums accounting records per subscriber, object and period, and checks each run's sequence numbers: a
// gap, or a run that has no `stop` record (the agent was killed), is reported with what it may have lost.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fromSystemError } from '../errors/index.ts';
import { type AccountingRecord, RecordLineReader, recordMoment } from './record.ts';

export interface SummaryRow {
  subscriber: string;
  object: string;
  /** Start of the period, ISO 8601. */
  period: string;
  records: number;
  httpResponses: number;
  wireRecords: number;
  bytes: number;
}

export interface RunCheck {
  run: string;
  agent: string;
  firstSeq: number;
  lastSeq: number;
  /** Sequence numbers missing between the first and the last. */
  missing: number;
  /** False: no `stop` record (killed, or still running): records of its last second may be lost. */
  stopped: boolean;
  lastRecordAt: string;
}

export interface Summary {
  rows: SummaryRow[];
  runs: RunCheck[];
  /** Lines that were not records (a line cut short by a kill -9 is the usual one). */
  unreadableLines: number;
}

/** Every record in `dir`'s accounting files, oldest file first. */
export async function readRecords(dir: string): Promise<{ records: AccountingRecord[]; unreadableLines: number }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => /^accounting(-.*)?\.jsonl$/.test(name));
  } catch (err) {
    throw fromSystemError(err, dir);
  }
  // Set-aside files first (their names sort by start time), the current one last.
  names.sort((a, b) => (a === 'accounting.jsonl' ? 1 : b === 'accounting.jsonl' ? -1 : a.localeCompare(b)));
  const records: AccountingRecord[] = [];
  let unreadableLines = 0;
  for (const name of names) {
    const text = await readFile(join(dir, name), 'utf8');
    const reader = new RecordLineReader();
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const record = reader.read(line);
      if (record === null) unreadableLines += 1;
      else if (record !== 'header') records.push(record);
    }
  }
  return { records, unreadableLines };
}

export function summarise(
  records: readonly AccountingRecord[],
  options: { periodMs: number; by: ReadonlyArray<'subscriber' | 'object' | 'period'> },
  unreadableLines = 0,
): Summary {
  const rows = new Map<string, SummaryRow>();
  for (const record of records) {
    if (record.type === 'start' || record.type === 'stop') continue;
    const at = recordMoment(record);
    const subscriber = options.by.includes('subscriber') ? (record.subscriber ?? '-') : '*';
    const object = options.by.includes('object') ? (record['s-ccid'] ?? '-') : '*';
    const period = options.by.includes('period')
      ? new Date(Math.floor(at / options.periodMs) * options.periodMs).toISOString()
      : '*';
    const key = `${subscriber}|${object}|${period}`;
    let row = rows.get(key);
    if (row === undefined) {
      row = { subscriber, object, period, records: 0, httpResponses: 0, wireRecords: 0, bytes: 0 };
      rows.set(key, row);
    }
    row.records += 1;
    if (record.type === 'http') row.httpResponses += 1;
    else row.wireRecords += 1;
    row.bytes += record['sc-entity-bytes'] ?? 0;
  }
  return {
    rows: [...rows.values()].sort(
      (a, b) =>
        a.period.localeCompare(b.period) ||
        a.subscriber.localeCompare(b.subscriber) ||
        a.object.localeCompare(b.object),
    ),
    runs: checkRuns(records),
    unreadableLines,
  };
}

function checkRuns(records: readonly AccountingRecord[]): RunCheck[] {
  const byRun = new Map<string, AccountingRecord[]>();
  for (const record of records) {
    let list = byRun.get(record.run);
    if (list === undefined) {
      list = [];
      byRun.set(record.run, list);
    }
    list.push(record);
  }
  return [...byRun.entries()].map(([run, list]) => {
    const seqs = list.map((r) => r.seq).sort((a, b) => a - b);
    const firstSeq = seqs[0] as number;
    const lastSeq = seqs.at(-1) as number;
    const last = list.reduce((a, b) => (recordMoment(b) > recordMoment(a) ? b : a));
    return {
      run,
      agent: list[0]?.agent ?? '',
      firstSeq,
      lastSeq,
      missing: lastSeq - firstSeq + 1 - new Set(seqs).size,
      stopped: list.some((r) => r.type === 'stop'),
      lastRecordAt: new Date(recordMoment(last)).toISOString(),
    };
  });
}

/** The rows as CSV (RFC 4180), with a header line. */
export function toCsv(rows: readonly SummaryRow[]): string {
  const quote = (value: string | number) =>
    /[",\n]/.test(String(value)) ? `"${String(value).replace(/"/g, '""')}"` : String(value);
  const header = 'period,subscriber,object,records,http_responses,wire_records,bytes';
  const lines = rows.map((r) =>
    [r.period, r.subscriber, r.object, r.records, r.httpResponses, r.wireRecords, r.bytes].map(quote).join(','),
  );
  return `${[header, ...lines].join('\n')}\n`;
}
