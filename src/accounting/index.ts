// The public surface of src/accounting: accounting records (one per HTTP response and peer-wire session),
// their durable log, and their summaries.
export { AccountingLog, type AccountingLogOptions, CURRENT_FILE, FLUSH_MS } from './log.ts';
export { type AccountingRecord, dateTime, type RecordInput, type RecordType, recordMoment } from './record.ts';
export { AccountingRecorder } from './recorder.ts';
export { STREAM_MAX_QUEUED_BYTES, type StreamTarget, streamRecords } from './stream.ts';
export { type RunCheck, readRecords, type Summary, type SummaryRow, summarise, toCsv } from './summary.ts';
