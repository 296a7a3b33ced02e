import { Flags } from '@oclif/core';
import { readRecords, summarise, toCsv } from '../src/accounting/index.ts';
import { BaseCommand } from '../src/cli/index.ts';
import { parseDuration } from '../src/config/index.ts';

export default class Accounting extends BaseCommand {
  static override description = `Sum up accounting records: bytes delivered per subscriber, object and period.
Reads the agent's accounting folder (accounting.dir, --accounting-dir): one record per HTTP response and per peer-wire session. Each run of the agent is checked: a gap in its sequence numbers, or no stop record (killed: its last second of records may be lost), is reported.`;

  static override examples = [
    '<%= config.bin %> accounting --dir /var/lib/edgepeer/accounting --period 1d',
    '<%= config.bin %> accounting --dir /var/lib/edgepeer/accounting --by subscriber --csv > charging.csv',
  ];

  static override flags = {
    dir: Flags.string({
      description: 'The accounting folder.',
      env: 'EDGEPEER_ACCOUNTING_DIR',
      required: true,
    }),
    by: Flags.string({
      description: 'What to group by (repeatable); default: all three.',
      options: ['subscriber', 'object', 'period'],
      multiple: true,
    }),
    period: Flags.string({ description: 'Length of a period, e.g. 1h, 1d.', default: '1h' }),
    csv: Flags.boolean({ description: 'CSV on stdout (a header line, one line per group).', default: false }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Accounting);
    const periodMs = parseDuration(flags.period, '--period');
    const by = (flags.by ?? ['subscriber', 'object', 'period']) as Array<'subscriber' | 'object' | 'period'>;
    const { records, unreadableLines } = await readRecords(flags.dir);
    const summary = summarise(records, { periodMs, by }, unreadableLines);
    for (const run of summary.runs) {
      if (run.missing > 0 || !run.stopped) {
        this.note(
          `run ${run.run} (${run.agent}): records ${run.firstSeq}-${run.lastSeq}, ${run.missing} missing` +
            (run.stopped ? '' : `, no stop record after ${run.lastRecordAt} (killed or still running)`),
        );
      }
    }
    if (unreadableLines > 0) this.note(`${unreadableLines} lines were not records (a line cut short by a kill)`);
    if (flags.csv && !this.jsonMode) {
      process.stdout.write(toCsv(summary.rows));
      return;
    }
    for (const row of summary.rows) {
      this.emit(
        { kind: 'group', ...row },
        `${row.period}  ${row.subscriber}  ${row.object}  ${row.bytes} bytes in ${row.records} records (${row.httpResponses} HTTP, ${row.wireRecords} peer wire)`,
      );
    }
    for (const run of summary.runs) this.emit({ kind: 'run', ...run });
  }
}
