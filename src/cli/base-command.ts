import { Command, Flags, type Interfaces } from '@oclif/core';
import { EdgepeerError, errorRow, isEdgepeerError } from '../errors/index.ts';

/**
 * What every edgepeer command shares: `--json`, one place that turns errors into messages and exit codes,
 * and line-oriented output (one JSON object per line in --json mode, so scripts can stream it).
 */
export abstract class BaseCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({
      description: 'Print one JSON object per line on stdout instead of text (for scripts).',
      default: false,
    }),
  };

  protected jsonMode = false;

  override async init(): Promise<void> {
    await super.init();
    // Peek at --json before full parsing so that even flag errors come out as JSON.
    this.jsonMode = this.argv.includes('--json');
  }

  /** Prints a record: JSON line in --json mode, else the text the command renders for it. */
  protected emit(record: object, text?: string): void {
    if (this.jsonMode) process.stdout.write(`${JSON.stringify(record)}\n`);
    else if (text !== undefined) process.stdout.write(`${text}\n`);
  }

  /** Human-facing notes (progress, summaries) go to stderr so stdout stays parseable. */
  protected note(text: string): void {
    if (!this.jsonMode) process.stderr.write(`${text}\n`);
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<void> {
    if (isEdgepeerError(err)) {
      this.reportError(err.toJSON());
      return;
    }
    // this.exit(code): the command has reported what went wrong already (exit 2 included).
    if (err.oclif?.exit !== undefined && err.message.startsWith('EEXIT')) throw err;
    // oclif's own parse errors (unknown flag, missing argument) carry oclif.exit === 2.
    if (err.oclif?.exit === 2 || /Unexpected argument|Missing required|Nonexistent flag|Expected /.test(err.message)) {
      // oclif puts the reasons on the lines after its first ("Parsing --flag", "The following errors
      // occurred:"): one line with all of them.
      const [head = err.message, ...reasons] = err.message
        .split('\n')
        .map((line) => line.trim())
        .filter((line) => line !== '' && !line.startsWith('See more help'));
      const message = reasons.length === 0 ? head : `${head}${head.endsWith(':') ? ' ' : ': '}${reasons.join('; ')}`;
      this.reportError({ code: 'EDGEPEER_INVALID_ARGUMENT', message });
      return;
    }
    this.reportError({ code: 'EDGEPEER_INTERNAL', message: err.stack ?? err.message });
  }

  /** Prints the error and exits with its code's exit code from the catalogue (src/errors). */
  private reportError(error: { code: string; message: string; subject?: string }): never {
    if (this.jsonMode) process.stdout.write(`${JSON.stringify({ error })}\n`);
    process.stderr.write(`edgepeer: ${error.message}\n`);
    this.exit(errorRow(error.code).exitCode);
  }
}

export type FlagsOf<T extends typeof Command> = Interfaces.InferredFlags<T['flags'] & T['baseFlags']>;

export { EdgepeerError };
