import bencode, { type BencodeValue } from 'bencode';
import { MetainfoError } from '../errors/index.ts';
import { BencodeSyntaxError, scanTopLevelDictionary } from './bencode-scan.ts';
import { infoHashOf, layOutFiles, PIECE_HASH_LENGTH } from './derive.ts';
import type { Metainfo } from './types.ts';
import { checkFileLength, checkMultiFilePaths, checkName, checkPieceHashes, checkPieceLength } from './validate.ts';

type Dictionary = { [key: string]: BencodeValue };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a .torrent file. The info hash is the SHA-1 of the info dictionary's bytes as received (not of
 * a re-encoding), so torrents with unusual but valid encodings keep their identity. Everything that
 * decides the content (the info dictionary, trackers, web seeds) is checked strictly; the descriptive
 * fields (comment, created by, creation date) are dropped when they have the wrong type.
 */
export function parseTorrent(data: Uint8Array, subject = 'torrent'): Metainfo {
  const fail = (what: string): never => {
    throw new MetainfoError(`${subject}: ${what}`, { subject });
  };
  let infoStart = 0;
  let infoEnd = 0;
  let top: Dictionary;
  try {
    const span = scanTopLevelDictionary(data).valueSpans.get('info');
    if (span === undefined) return fail('no info dictionary');
    infoStart = span.start;
    infoEnd = span.end;
    top = bencode.decode(data) as Dictionary;
  } catch (err) {
    if (err instanceof BencodeSyntaxError) return fail(`not valid bencode: ${err.message}`);
    throw err;
  }
  const info = Buffer.from(data.subarray(infoStart, infoEnd));
  const infoDictionary = own(top, 'info');
  if (!isDictionary(infoDictionary)) return fail('info is not a dictionary');
  const reader = new FieldReader(subject);

  const name = reader.text(infoDictionary, 'name', 'info.name');
  checkName(name, subject);
  const pieceLength = reader.integer(infoDictionary, 'piece length', 'info["piece length"]');
  checkPieceLength(pieceLength, subject);
  const pieces = reader.bytes(infoDictionary, 'pieces', 'info.pieces');
  const isPrivate = optional(infoDictionary, 'private', (value) => reader.integerValue(value, 'info.private')) === 1;

  const hasFiles = own(infoDictionary, 'files') !== undefined;
  const hasLength = own(infoDictionary, 'length') !== undefined;
  if (hasFiles === hasLength) fail(hasFiles ? 'info has both files and length' : 'info has neither files nor length');
  const fileList = hasFiles ? reader.fileList(infoDictionary) : [{ path: [], length: reader.length(infoDictionary) }];
  if (hasFiles) {
    checkMultiFilePaths(
      fileList.map((file) => file.path),
      subject,
    );
  }
  const { files, length } = layOutFiles(fileList);
  checkPieceHashes(pieces.length, length, pieceLength, subject);

  const comment = optional(top, 'comment', (value) => reader.tryText(value));
  const createdBy = optional(top, 'created by', (value) => reader.tryText(value));
  const creationDate = optional(top, 'creation date', (value) => (Number.isSafeInteger(value) ? value : undefined));
  return {
    infoHash: infoHashOf(info),
    name,
    pieceLength,
    pieceCount: pieces.length / PIECE_HASH_LENGTH,
    length,
    files,
    multiFile: hasFiles,
    pieceHashes: Buffer.from(pieces.buffer, pieces.byteOffset, pieces.length),
    private: isPrivate,
    info,
    announceList: reader.announceList(top),
    urlList: reader.urlList(top),
    ...(comment === undefined ? {} : { comment }),
    ...(createdBy === undefined ? {} : { createdBy }),
    ...(typeof creationDate === 'number' ? { creationDate } : {}),
  };
}

/** Own properties only: a key such as "__proto__" in the data must not reach the prototype chain. */
function own(dictionary: Dictionary, key: string): BencodeValue | undefined {
  return Object.hasOwn(dictionary, key) ? dictionary[key] : undefined;
}

function optional<T>(dictionary: Dictionary, key: string, read: (value: BencodeValue) => T): T | undefined {
  const value = own(dictionary, key);
  return value === undefined ? undefined : read(value);
}

function isDictionary(value: BencodeValue | undefined): value is Dictionary {
  return typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** Typed access to decoded fields; every mismatch is a MetainfoError naming the field. */
class FieldReader {
  readonly subject: string;

  constructor(subject: string) {
    this.subject = subject;
  }

  fail(what: string): never {
    throw new MetainfoError(`${this.subject}: ${what}`, { subject: this.subject });
  }

  bytes(dictionary: Dictionary, key: string, field: string): Uint8Array {
    const value = own(dictionary, key);
    if (value === undefined) this.fail(`${field} is missing`);
    if (!(value instanceof Uint8Array)) this.fail(`${field} is not a byte string`);
    return value;
  }

  text(dictionary: Dictionary, key: string, field: string): string {
    return this.textValue(this.bytes(dictionary, key, field), field);
  }

  textValue(value: BencodeValue, field: string): string {
    if (!(value instanceof Uint8Array)) this.fail(`${field} is not a byte string`);
    const text = this.tryText(value);
    if (text === undefined) this.fail(`${field} is not valid UTF-8`);
    return text;
  }

  tryText(value: BencodeValue): string | undefined {
    if (!(value instanceof Uint8Array)) return undefined;
    try {
      return utf8.decode(value);
    } catch {
      return undefined;
    }
  }

  integer(dictionary: Dictionary, key: string, field: string): number {
    const value = own(dictionary, key);
    if (value === undefined) this.fail(`${field} is missing`);
    return this.integerValue(value, field);
  }

  integerValue(value: BencodeValue, field: string): number {
    if (typeof value !== 'number') this.fail(`${field} is not an integer`);
    return value;
  }

  list(value: BencodeValue | undefined, field: string): BencodeValue[] {
    if (!Array.isArray(value)) this.fail(`${field} is not a list`);
    return value;
  }

  length(dictionary: Dictionary): number {
    const length = this.integer(dictionary, 'length', 'info.length');
    checkFileLength(length, 'info.length', this.subject);
    return length;
  }

  fileList(infoDictionary: Dictionary): { path: string[]; length: number }[] {
    const entries = this.list(own(infoDictionary, 'files'), 'info.files');
    if (entries.length === 0) this.fail('info.files is empty');
    return entries.map((entry, index) => {
      const field = `info.files[${index}]`;
      if (!isDictionary(entry)) this.fail(`${field} is not a dictionary`);
      const length = this.integer(entry, 'length', `${field}.length`);
      checkFileLength(length, `${field}.length`, this.subject);
      const path = this.list(own(entry, 'path'), `${field}.path`).map((component, at) =>
        this.textValue(component, `${field}.path[${at}]`),
      );
      return { path, length };
    });
  }

  /** BEP 12 announce-list when present and non-empty, else the lone announce as one tier. */
  announceList(top: Dictionary): string[][] {
    const tiers = optional(top, 'announce-list', (value) =>
      this.list(value, 'announce-list').map((tier, index) =>
        this.list(tier, `announce-list[${index}]`).map((url, at) =>
          this.textValue(url, `announce-list[${index}][${at}]`),
        ),
      ),
    )?.filter((tier) => tier.length > 0);
    if (tiers !== undefined && tiers.length > 0) return tiers;
    const announce = optional(top, 'announce', (value) => this.textValue(value, 'announce'));
    return announce === undefined || announce === '' ? [] : [[announce]];
  }

  /** BEP 19 url-list: one URL or a list of them. */
  urlList(top: Dictionary): string[] {
    const value = own(top, 'url-list');
    if (value === undefined) return [];
    if (value instanceof Uint8Array) {
      const url = this.textValue(value, 'url-list');
      return url === '' ? [] : [url];
    }
    return this.list(value, 'url-list').map((url, index) => this.textValue(url, `url-list[${index}]`));
  }
}
