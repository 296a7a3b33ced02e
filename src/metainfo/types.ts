// The contract of src/metainfo: BitTorrent v1 metainfo (BEP 3) as plain data. Stateless.

/** One file of a torrent, in the order the info dictionary lists it. */
export interface FileEntry {
  /** Path components below the torrent's name; [] for a single-file torrent. */
  path: string[];
  /** Length in bytes. */
  length: number;
  /** Byte offset of the file's first byte in the torrent's concatenated data. */
  offset: number;
}

export interface Metainfo {
  /** SHA-1 of the bencoded info dictionary, 40 lowercase hex characters. */
  infoHash: string;
  name: string;
  /** Bytes per piece (the last piece may be shorter). */
  pieceLength: number;
  pieceCount: number;
  /** Total length of the content in bytes. */
  length: number;
  files: FileEntry[];
  /** True when the info dictionary has `files` (even with one file in it). */
  multiFile: boolean;
  /** 20-byte SHA-1 digests of the pieces, concatenated (the info dictionary's `pieces`). */
  pieceHashes: Buffer;
  private: boolean;
  /** The bencoded info dictionary, byte for byte as hashed: what ut_metadata (BEP 9) serves. */
  info: Buffer;
  /** Tracker tiers (BEP 12); a lone `announce` becomes one tier of one URL. */
  announceList: string[][];
  /** Web seeds (BEP 19). */
  urlList: string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
}

/** Where a piece's bytes lie: one span per file it touches, in order. */
export interface PieceSpan {
  fileIndex: number;
  /** Offset within that file. */
  fileOffset: number;
  length: number;
}
