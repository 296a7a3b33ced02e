import bencode from 'bencode';
import { MetainfoError } from '../errors/index.ts';
import { infoHashOf, layOutFiles, PIECE_HASH_LENGTH } from './derive.ts';
import type { Metainfo } from './types.ts';
import { checkFileLength, checkMultiFilePaths, checkName, checkPieceHashes, checkPieceLength } from './validate.ts';

export interface BuildMetainfoInput {
  name: string;
  pieceLength: number;
  multiFile: boolean;
  /** In the order the info dictionary will list them; a single-file torrent has one file with path []. */
  files: { path: string[]; length: number }[];
  /** 20-byte SHA-1 digests of the pieces, concatenated. */
  pieceHashes: Buffer;
  private?: boolean;
  announceList?: string[][];
  urlList?: string[];
  comment?: string;
  createdBy?: string;
  creationDate?: number;
}

/**
 * Builds the info dictionary exactly as mktorrent does and derives everything else. mktorrent writes the
 * keys files|length, name, piece length, pieces, private (only when set): sorted, as bencode requires, so
 * the `bencode` package's key sorting yields the same bytes. Each file is a dictionary {length, path}.
 */
export function buildMetainfo(input: BuildMetainfoInput): Metainfo {
  const subject = input.name;
  checkName(input.name, subject);
  checkPieceLength(input.pieceLength, subject);
  input.files.forEach((file, index) => {
    checkFileLength(file.length, `file ${index}`, subject);
  });
  if (input.multiFile) {
    if (input.files.length === 0) throw new MetainfoError(`${subject}: a multi-file torrent needs files`, { subject });
    checkMultiFilePaths(
      input.files.map((file) => file.path),
      subject,
    );
  } else if (input.files.length !== 1 || input.files[0]!.path.length !== 0) {
    throw new MetainfoError(`${subject}: a single-file torrent has exactly one file, with path []`, { subject });
  }
  const { files, length } = layOutFiles(input.files);
  checkPieceHashes(input.pieceHashes.length, length, input.pieceLength, subject);

  const infoDictionary = {
    ...(input.multiFile
      ? { files: input.files.map((file) => ({ length: file.length, path: file.path })) }
      : { length: files[0]!.length }),
    name: input.name,
    'piece length': input.pieceLength,
    pieces: input.pieceHashes,
    ...(input.private === true ? { private: 1 } : {}),
  };
  const info = Buffer.from(bencode.encode(infoDictionary));
  return {
    infoHash: infoHashOf(info),
    name: input.name,
    pieceLength: input.pieceLength,
    pieceCount: input.pieceHashes.length / PIECE_HASH_LENGTH,
    length,
    files,
    multiFile: input.multiFile,
    // A copy: the caller may reuse its buffer, and pieceHash() hands out views of this one.
    pieceHashes: Buffer.from(input.pieceHashes),
    private: input.private === true,
    info,
    announceList: (input.announceList ?? []).map((tier) => [...tier]).filter((tier) => tier.length > 0),
    urlList: [...(input.urlList ?? [])],
    ...(input.comment === undefined ? {} : { comment: input.comment }),
    ...(input.createdBy === undefined ? {} : { createdBy: input.createdBy }),
    ...(input.creationDate === undefined ? {} : { creationDate: input.creationDate }),
  };
}
