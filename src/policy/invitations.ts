// Invitations from the tracker (TR 23.844 6.2.3 step 2: "Tracker AS may request CCS to join"): follows the
// reference tracker's list of swarms in need, GET /invitations?since=V&wait=S (docs/tracker.md), and hands
// each newly invited swarm to the caller once. A failed or unreadable answer is retried with a growing delay.

export interface InvitedSwarm {
  infoHash: string;
  rarestCopies: number;
  seeds: number;
  leechers: number;
}

export interface InvitationFollowerOptions {
  /** The tracker's invitations URL, e.g. http://tracker:6969/invitations. */
  url: string;
  /** Called for each swarm the list names that was not named in the previous answer. */
  onInvited: (swarm: InvitedSwarm) => void;
  onProblem?: (detail: string) => void;
  waitS?: number;
  retryMs?: number;
  maxRetryMs?: number;
}

/** The invitations URL beside a tracker's statistics URL (…/stats -> …/invitations). */
export function invitationsUrlFromStats(statsUrl: string): string {
  const url = new URL(statsUrl);
  url.pathname = url.pathname.replace(/\/stats\/?$/, '/invitations');
  url.search = '';
  return url.toString();
}

export class InvitationFollower {
  readonly #options: Required<Omit<InvitationFollowerOptions, 'onProblem'>> &
    Pick<InvitationFollowerOptions, 'onProblem'>;
  readonly #abort = new AbortController();
  #loop: Promise<void> | null = null;

  constructor(options: InvitationFollowerOptions) {
    this.#options = { waitS: 30, retryMs: 1000, maxRetryMs: 30_000, ...options };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { url, waitS, retryMs, maxRetryMs, onInvited, onProblem } = this.#options;
    const signal = this.#abort.signal;
    let version: number | null = null;
    let named = new Set<string>();
    let delay = retryMs;
    while (!signal.aborted) {
      try {
        const query = version === null ? '' : `?since=${version}&wait=${waitS}`;
        const response = await fetch(`${url}${query}`, {
          signal: AbortSignal.any([signal, AbortSignal.timeout((waitS + 10) * 1000)]),
          headers: { accept: 'application/json' },
        });
        const text = await response.text();
        if (response.status !== 200)
          throw new Error(`the tracker answered HTTP ${response.status}: ${text.slice(0, 120)}`);
        const answer = parseList(text);
        version = answer.version;
        const now = new Set<string>();
        for (const swarm of answer.invitations) {
          now.add(swarm.infoHash);
          if (!named.has(swarm.infoHash)) onInvited(swarm);
        }
        named = now;
        delay = retryMs;
      } catch (err) {
        if (signal.aborted) return;
        onProblem?.(`invitations from ${url}: ${err instanceof Error ? err.message : String(err)}`);
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        delay = Math.min(maxRetryMs, delay * 2);
      }
    }
  }
}

function parseList(text: string): { version: number; invitations: InvitedSwarm[] } {
  const answer: unknown = JSON.parse(text);
  if (typeof answer !== 'object' || answer === null) throw new Error('the answer is not a JSON object');
  const { version, invitations } = answer as { version?: unknown; invitations?: unknown };
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || !Array.isArray(invitations)) {
    throw new Error('the answer lacks "version" or "invitations"');
  }
  return {
    version,
    invitations: invitations.map((entry) => {
      const e = entry as Partial<InvitedSwarm>;
      if (typeof e?.infoHash !== 'string' || !/^[0-9a-f]{40}$/.test(e.infoHash)) {
        throw new Error('an invitation lacks a 40 hex "infoHash"');
      }
      return {
        infoHash: e.infoHash,
        rarestCopies: Number(e.rarestCopies),
        seeds: Number(e.seeds),
        leechers: Number(e.leechers),
      };
    }),
  };
}
