// One lifecycle for every part a process is built from (store, hashing, servers, announces, IMS...): parts
// are added as they come up, so a start that fails undoes what it did, and stop in two phases under one
// deadline. The agent and the controller are both roots over it.
import type { Logger } from '../log/index.ts';

/**
 * 'serving': faces the network (servers, admin API, announces, IMS, scrub); all stop together under the
 * deadline. 'release': what serving parts use (origin client, hash pool, store); released after them, in
 * reverse order of start.
 */
export type PartPhase = 'serving' | 'release';

export interface Part {
  readonly name: string;
  readonly phase: PartPhase;
  stop(): Promise<unknown>;
}

export class Lifecycle {
  readonly #parts: Part[] = [];
  readonly #logger: Pick<Logger, 'debug' | 'warn' | 'error'>;
  #stopping: Promise<string[]> | null = null;

  constructor(logger: Pick<Logger, 'debug' | 'warn' | 'error'>) {
    this.#logger = logger;
  }

  add(part: Part): void {
    this.#parts.push(part);
  }

  /**
   * Stops every serving part at once, each within `deadlineMs`: a part still busy then is left behind
   * (logged). Then releases the rest, in reverse order, without a deadline. Safe to call twice; resolves
   * with the names of the parts that were late.
   */
  stop(deadlineMs: number): Promise<string[]> {
    this.#stopping ??= (async () => {
      const serving = this.#parts.filter((part) => part.phase === 'serving');
      const late = (await Promise.all(serving.map((part) => this.#stopPart(part, deadlineMs)))).filter(
        (name): name is string => name !== null,
      );
      if (late.length > 0) {
        this.#logger.warn({ parts: late, deadlineMs }, 'shutdown: parts still busy at the deadline were left');
      }
      for (const part of this.#parts.filter((p) => p.phase === 'release').reverse()) await this.#stopPart(part, null);
      return late;
    })();
    return this.#stopping;
  }

  /** Stops one part, within `deadlineMs` if given; its name if the deadline came first. */
  async #stopPart(part: Part, deadlineMs: number | null): Promise<string | null> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut =
      deadlineMs === null
        ? null
        : new Promise<'late'>((resolve) => {
            timer = setTimeout(() => resolve('late'), deadlineMs);
          });
    try {
      const stopped = part.stop().then(() => 'stopped' as const);
      const outcome = await (timedOut === null ? stopped : Promise.race([stopped, timedOut]));
      if (outcome === 'late') return part.name;
      this.#logger.debug({ part: part.name, ms: Math.round(performance.now() - started) }, 'stopped');
    } catch (err) {
      this.#logger.error({ err, part: part.name }, 'stopping failed');
    } finally {
      clearTimeout(timer);
    }
    return null;
  }
}
