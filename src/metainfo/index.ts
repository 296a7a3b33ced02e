// The public surface of src/metainfo: BitTorrent v1 metainfo (BEP 3) as plain data. Stateless.
export { type BuildMetainfoInput, buildMetainfo } from './build.ts';
export { type ContentFile, type ContentListing, listContentFiles } from './content-files.ts';
export { encodeTorrent } from './encode.ts';
export { magnetLink, parseMagnet } from './magnet.ts';
export { parseTorrent } from './parse.ts';
export { defaultPieceLength } from './piece-length.ts';
export { checkPieceIndexes, formatPieceList, parsePieceList } from './piece-list.ts';
export { byteRangeSpans, pieceHash, pieceSize, pieceSpans } from './pieces.ts';
export type { FileEntry, Metainfo, PieceSpan } from './types.ts';
