import bencode from 'bencode';
import type { Metainfo } from './types.ts';

/**
 * The whole .torrent file. The info dictionary goes in as the stored bytes, never re-encoded, so the
 * info hash of the file written is metainfo.infoHash. Outer keys as mktorrent writes them: announce (the
 * first tracker), announce-list only when there is more than one tracker, comment, created by,
 * creation date, info, url-list (one URL as a string, several as a list). Given the same fields, the file
 * is byte for byte mktorrent's.
 */
export function encodeTorrent(metainfo: Metainfo): Buffer {
  const trackers = metainfo.announceList.flat();
  const outer: Record<string, unknown> = {
    announce: trackers[0],
    'announce-list': trackers.length > 1 ? metainfo.announceList : undefined,
    comment: metainfo.comment,
    'created by': metainfo.createdBy,
    'creation date': metainfo.creationDate,
    info: metainfo.info,
    'url-list': metainfo.urlList.length > 1 ? metainfo.urlList : metainfo.urlList[0],
  };
  const parts: Uint8Array[] = [Buffer.from('d')];
  for (const key of Object.keys(outer).sort()) {
    const value = outer[key];
    if (value === undefined) continue;
    parts.push(bencode.encode(key), key === 'info' ? metainfo.info : bencode.encode(value));
  }
  parts.push(Buffer.from('e'));
  return Buffer.concat(parts);
}
