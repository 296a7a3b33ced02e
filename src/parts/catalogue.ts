// Where storage control finds a swarm the tracker invites it to (storageControl.catalogue, docs/policy.md):
// a folder or an http(s) URL holding <info hash>.torrent files. The .torrent's url-list (BEP 19) names the
// origin the pieces are ingested from; for a single-file object a URL ending in / gets the file's name.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError, NotFoundError } from '../errors/index.ts';
import { type Metainfo, parseTorrent } from '../metainfo/index.ts';

const MAX_TORRENT_BYTES = 16 * 1024 * 1024;

export async function metainfoFromCatalogue(
  catalogue: string,
  infoHash: string,
): Promise<{ metainfo: Metainfo; origin: string }> {
  const file = `${infoHash}.torrent`;
  let bytes: Uint8Array;
  if (/^https?:\/\//i.test(catalogue)) {
    const url = new URL(file, catalogue.endsWith('/') ? catalogue : `${catalogue}/`).toString();
    const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
    if (response.status !== 200) {
      throw new NotFoundError(`the catalogue answered HTTP ${response.status} for ${url}`, { subject: infoHash });
    }
    bytes = new Uint8Array(await response.arrayBuffer());
  } else {
    bytes = await readFile(join(catalogue, file)).catch((err: NodeJS.ErrnoException) => {
      throw new NotFoundError(`no ${file} in the catalogue ${catalogue} (${err.code})`, { subject: infoHash });
    });
  }
  if (bytes.byteLength > MAX_TORRENT_BYTES) throw new InvalidArgumentError(`${file} is larger than 16 MiB`);
  const metainfo = parseTorrent(bytes, `${catalogue} ${file}`);
  if (metainfo.infoHash !== infoHash) {
    throw new InvalidArgumentError(`${file} in the catalogue is the torrent of ${metainfo.infoHash}, not ${infoHash}`);
  }
  const origin = originFromUrlList(metainfo);
  if (origin === null) {
    throw new InvalidArgumentError(`${file} in the catalogue has no url-list naming the origin`, { subject: infoHash });
  }
  return { metainfo, origin };
}

/** The origin a .torrent's url-list (BEP 19) names: its first entry, with the file's name for a URL ending in /. */
export function originFromUrlList(metainfo: Metainfo): string | null {
  const first = metainfo.urlList[0];
  if (first === undefined) return null;
  return !metainfo.multiFile && first.endsWith('/') ? `${first}${encodeURIComponent(metainfo.name)}` : first;
}
