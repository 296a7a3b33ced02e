// The public surface of src/metainfo: BitTorrent v1 metainfo (BEP 3) as plain data. Stateless.
export { type BuildMetainfoInput, buildMetainfo } from './build.ts';
export { encodeTorrent } from './encode.ts';
export { parseTorrent } from './parse.ts';
export { byteRangeSpans, pieceHash, pieceSize, pieceSpans } from './pieces.ts';
export type { FileEntry, Metainfo, PieceSpan } from './types.ts';
