// The keys that sign and check URL tokens: several at once, each named by an id, each read from a file, so
// that a new key can be added everywhere before tokens signed with it appear, and an old one removed after
// its tokens expired (rotation without a gap). Read again on SIGHUP; a reload that fails keeps the old keys.
import { createSecretKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { SigningKeyError } from '../errors/index.ts';
import { isKeyId } from './token.ts';

/** One key as configured: `ID=FILE`. */
export interface KeySpec {
  id: string;
  file: string;
}

/** Keys shorter than this are refused: HMAC-SHA256 wants at least 128 bits. */
export const MIN_KEY_BYTES = 16;

/** `ID=FILE` taken apart; null if it is not of that shape or the id has characters a token cannot carry. */
export function parseKeySpec(text: string): KeySpec | null {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) return null;
  const id = text.slice(0, eq).trim();
  const file = text.slice(eq + 1).trim();
  if (!isKeyId(id) || file === '') return null;
  return { id, file };
}

/**
 * A key file's bytes: an even-length hex string (as EdgeAuth keys are written) is decoded, anything else is
 * taken as it is, without the trailing newline an editor adds.
 */
export function keyBytes(text: string): Buffer {
  const trimmed = text.trim();
  if (trimmed.length >= 2 * MIN_KEY_BYTES && trimmed.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(trimmed)) {
    return Buffer.from(trimmed, 'hex');
  }
  return Buffer.from(trimmed, 'utf8');
}

/** Reads one key file; SigningKeyError naming the file and the key if it cannot be used. */
export async function readKey(spec: KeySpec): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(spec.file, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new SigningKeyError(`token key ${spec.id}: cannot read ${spec.file} (${reason})`, {
      subject: spec.file,
      cause: err,
    });
  }
  const key = keyBytes(text);
  if (key.length < MIN_KEY_BYTES) {
    throw new SigningKeyError(
      `token key ${spec.id}: ${spec.file} holds ${key.length} bytes; at least ${MIN_KEY_BYTES} are needed (e.g. openssl rand -hex 32 > ${spec.file})`,
      { subject: spec.file },
    );
  }
  return key;
}

/**
 * The keys in use, by id, as KeyObjects: imported once, an HMAC with one costs a third of one with raw
 * bytes (measured: scripts/bench/url-token.mjs).
 */
export class KeyRing {
  #keys: ReadonlyMap<string, KeyObject>;
  #specs: readonly KeySpec[];
  /** Bumped whenever the keys change, so that a cache of checked tokens knows to forget them. */
  generation = 0;

  private constructor(specs: readonly KeySpec[], keys: ReadonlyMap<string, KeyObject>) {
    this.#specs = specs;
    this.#keys = keys;
  }

  /** Reads every key; rejects with SigningKeyError on the first that cannot be used, or on a repeated id. */
  static async load(specs: readonly KeySpec[]): Promise<KeyRing> {
    return new KeyRing(specs, await readAll(specs));
  }

  get(id: string): KeyObject | undefined {
    return this.#keys.get(id);
  }

  ids(): string[] {
    return [...this.#keys.keys()];
  }

  specs(): readonly KeySpec[] {
    return this.#specs;
  }

  /** Reads the files of `specs` (default: the same) anew and swaps them in whole; the old keys stay on failure. */
  async reload(specs: readonly KeySpec[] = this.#specs): Promise<void> {
    const keys = await readAll(specs);
    this.#keys = keys;
    this.#specs = specs;
    this.generation += 1;
  }
}

async function readAll(specs: readonly KeySpec[]): Promise<Map<string, KeyObject>> {
  const keys = new Map<string, KeyObject>();
  for (const spec of specs) {
    if (keys.has(spec.id)) {
      throw new SigningKeyError(`token key ${spec.id} is given twice`, { subject: spec.id });
    }
    keys.set(spec.id, createSecretKey(await readKey(spec)));
  }
  return keys;
}
