// The background scrub as a part: the scrubber of the moment, replaced by a reload with new settings.
import type { Logger } from '../log/index.ts';
import { type Catalog, type PieceCache, Scrubber, type ScrubOptions, type ScrubStatus } from '../store/index.ts';
import type { Part } from './lifecycle.ts';

export class ScrubPart implements Part {
  readonly name = 'scrub';
  readonly phase = 'serving';
  readonly #catalog: Pick<Catalog, 'list' | 'get' | 'metainfoOf'>;
  readonly #pieces: Pick<PieceCache, 'scrubPiece'>;
  readonly #logger: Pick<Logger, 'info'>;
  #scrubber: Scrubber | null = null;

  constructor(
    catalog: Pick<Catalog, 'list' | 'get' | 'metainfoOf'>,
    pieces: Pick<PieceCache, 'scrubPiece'>,
    logger: Pick<Logger, 'info'>,
  ) {
    this.#catalog = catalog;
    this.#pieces = pieces;
    this.#logger = logger;
  }

  /** Starts a scrub with `options` (a new pass, with the new rate, window and interval), stopping the last one. */
  async replace(options: ScrubOptions): Promise<void> {
    const scrubber = new Scrubber(this.#catalog, this.#pieces, options);
    scrubber.on('pass-finished', (pass) =>
      this.#logger.info(
        { ...pass, seconds: Math.round((pass.finishedAt! - pass.startedAt) / 1000) },
        'scrub: every held piece checked against its SHA-1',
      ),
    );
    await this.#scrubber?.stop();
    this.#scrubber = scrubber;
    scrubber.start();
  }

  status(): ScrubStatus | null {
    return this.#scrubber?.status() ?? null;
  }

  async stop(): Promise<void> {
    await this.#scrubber?.stop();
  }
}
