// Per-subscriber passkeys, as private trackers hand them out: each subscriber's announce URL carries a
// secret (`/<passkey>/announce` or `?passkey=`), and the tracker answers only announces whose passkey it
// knows. Each passkey maps to an IMS public identity (sip:alice@ims.example, tel:+15551234), which goes into
// the allow-list and from there into the agents' accounting records. The passkey itself is never logged.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../errors/index.ts';

/** What a passkey may look like: long enough to be a secret, plain enough to sit in a URL path. */
export const PASSKEY = /^[A-Za-z0-9_-]{16,128}$/;
/** An IMS public identity: a SIP URI with a user part, or a tel URI. */
const PUBLIC_IDENTITY = /^(?:sips?:[^\s@]+@[^\s@]+|tel:\+?[0-9][0-9.()-]*)$/;

export function isPasskey(text: string): boolean {
  return PASSKEY.test(text);
}

export function isPublicIdentity(text: string): boolean {
  return text.length <= 256 && PUBLIC_IDENTITY.test(text);
}

/**
 * A passkey file: one `PASSKEY PUBLIC-IDENTITY` per line (spaces or tabs between), `#` starts a comment,
 * blank lines are skipped. Throws ConfigError naming every bad line (by number, never by its passkey).
 */
export function parsePasskeys(text: string, source: string): Map<string, string> {
  const keys = new Map<string, string>();
  const problems: string[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const where = `line ${index + 1}`;
    const fields = line.split(/\s+/);
    if (fields.length !== 2) {
      problems.push(`${where}: expected "PASSKEY PUBLIC-IDENTITY", got ${fields.length} field(s)`);
      return;
    }
    const [passkey, subscriber] = fields as [string, string];
    if (!isPasskey(passkey)) {
      problems.push(`${where}: the passkey must be 16-128 letters, digits, _ or - (openssl rand -hex 20)`);
    } else if (!isPublicIdentity(subscriber)) {
      problems.push(`${where}: "${subscriber}" is not an IMS public identity (sip:user@domain or tel:+number)`);
    } else if (keys.has(passkey)) {
      problems.push(`${where}: the passkey is given twice`);
    } else {
      keys.set(passkey, subscriber);
    }
  });
  if (problems.length > 0) {
    throw new ConfigError(`passkey file ${source}: ${problems.join('; ')}`, { subject: source });
  }
  return keys;
}

/** Where the tracker finds the subscriber of a passkey. */
export interface PasskeySource {
  /** The subscriber (public identity) of `passkey`, or undefined if it is not known. */
  lookup(passkey: string): Promise<string | undefined>;
  /** Reads the file again (SIGHUP); a hook forgets what it cached. A failed reload keeps the old keys. */
  reload(): Promise<void>;
  /** Passkeys known now (a hook: those cached). */
  readonly size: number;
}

/** Passkeys from a file, read at start and on reload. */
export class PasskeyFile implements PasskeySource {
  readonly #file: string;
  #keys: Map<string, string> = new Map();

  private constructor(file: string) {
    this.#file = file;
  }

  static async load(file: string): Promise<PasskeyFile> {
    const source = new PasskeyFile(file);
    await source.reload();
    return source;
  }

  get size(): number {
    return this.#keys.size;
  }

  async lookup(passkey: string): Promise<string | undefined> {
    return this.#keys.get(passkey);
  }

  async reload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new ConfigError(`passkey file ${this.#file} cannot be read (${reason})`, {
        subject: this.#file,
        cause: err,
      });
    }
    this.#keys = parsePasskeys(text, this.#file);
  }
}

/**
 * Passkeys asked of an HTTP hook (the operator's subscriber database): GET <url>?passkey=<passkey>, answered
 * 200 with {"subscriber": "sip:..."} for a known one, 404 for an unknown one. Answers are cached (known ones
 * for `cacheMs`, unknown ones for a tenth of it) so that announces do not each wait on the hook; a hook that
 * fails is asked again at the next announce and the announce gets a failure reason meanwhile.
 */
export class PasskeyHook implements PasskeySource {
  readonly #url: string;
  readonly #cacheMs: number;
  readonly #timeoutMs: number;
  readonly #cache = new Map<string, { subscriber: string | undefined; until: number }>();

  constructor(url: string, options: { cacheMs?: number; timeoutMs?: number } = {}) {
    this.#url = url;
    this.#cacheMs = options.cacheMs ?? 60_000;
    this.#timeoutMs = options.timeoutMs ?? 5000;
  }

  get size(): number {
    return this.#cache.size;
  }

  async lookup(passkey: string): Promise<string | undefined> {
    if (!isPasskey(passkey)) return undefined;
    const now = Date.now();
    const cached = this.#cache.get(passkey);
    if (cached !== undefined && cached.until > now) return cached.subscriber;
    const url = new URL(this.#url);
    url.searchParams.set('passkey', passkey);
    const res = await fetch(url, { signal: AbortSignal.timeout(this.#timeoutMs) });
    let subscriber: string | undefined;
    if (res.status === 200) {
      const body = (await res.json()) as { subscriber?: unknown };
      if (typeof body.subscriber !== 'string' || !isPublicIdentity(body.subscriber)) {
        throw new Error(`passkey hook ${this.#url}: answer has no public identity in "subscriber"`);
      }
      subscriber = body.subscriber;
    } else if (res.status === 404) {
      await res.body?.cancel();
    } else {
      await res.body?.cancel();
      throw new Error(`passkey hook ${this.#url} answered ${res.status}`);
    }
    if (this.#cache.size >= 100_000) this.#cache.clear(); // bounded: a flood of made-up passkeys
    this.#cache.set(passkey, {
      subscriber,
      until: now + (subscriber === undefined ? this.#cacheMs / 10 : this.#cacheMs),
    });
    return subscriber;
  }

  async reload(): Promise<void> {
    this.#cache.clear();
  }
}
