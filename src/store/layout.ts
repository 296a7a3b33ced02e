// Where things live under the data dir (docs/store.md draws it):
//   lock                          the writer lock
//   index/snapshot                every object's summary and bitmap, replaced atomically
//   index/journal-<generation>    changes since that snapshot, appended
//   objects/<infohash>/metainfo.torrent
//   objects/<infohash>/data/      the object's data folder D: D/<name> or D/<name>/<path...>
//   staging/<random>/             a data folder being filled before its metainfo is known
//   trash/                        objects being deleted
import { dirname, join, sep } from 'node:path';
import { InvalidArgumentError } from '../errors/index.ts';
import type { Metainfo } from '../metainfo/index.ts';

export const INDEX_DIR = 'index';
export const OBJECTS_DIR = 'objects';
export const STAGING_DIR = 'staging';
export const TRASH_DIR = 'trash';
export const METAINFO_FILE = 'metainfo.torrent';
export const DATA_DIR = 'data';

const INFO_HASH = /^[0-9a-f]{40}$/;

export function isInfoHash(value: string): boolean {
  return INFO_HASH.test(value);
}

export function objectDir(dataDir: string, infoHash: string): string {
  return join(dataDir, OBJECTS_DIR, infoHash);
}

function unsafeComponent(component: string): boolean {
  return (
    component === '' ||
    component === '.' ||
    component === '..' ||
    component.includes('/') ||
    component.includes('\\') ||
    component.includes('\0')
  );
}

/** Path components of file `fileIndex` below a data folder: [name] or [name, ...path]. */
export function contentComponents(metainfo: Metainfo, fileIndex: number): string[] {
  const file = metainfo.files[fileIndex];
  if (file === undefined) throw new InvalidArgumentError(`${metainfo.name} has no file ${fileIndex}`);
  return metainfo.multiFile ? [metainfo.name, ...file.path] : [metainfo.name];
}

/**
 * The file's path in `dataFolder`. Metainfo from parseTorrent is already safe; this checks again because
 * metainfo can also come from code, and a path outside the data folder must never be opened.
 */
export function contentFilePath(dataFolder: string, metainfo: Metainfo, fileIndex: number): string {
  const components = contentComponents(metainfo, fileIndex);
  const bad = components.find(unsafeComponent);
  if (bad !== undefined) {
    throw new InvalidArgumentError(
      `${JSON.stringify(metainfo.name)} has an unsafe file name component ${JSON.stringify(bad)}`,
      { subject: metainfo.infoHash },
    );
  }
  const path = join(dataFolder, ...components);
  if (!path.startsWith(dataFolder + sep)) {
    throw new InvalidArgumentError(`${JSON.stringify(metainfo.name)} has a file outside its data folder`, {
      subject: metainfo.infoHash,
    });
  }
  return path;
}

/** The folders that hold the object's files, below `dataFolder`, deepest first (to fsync bottom-up). */
export function contentFolders(dataFolder: string, metainfo: Metainfo): string[] {
  const folders = new Set<string>();
  for (let fileIndex = 0; fileIndex < metainfo.files.length; fileIndex++) {
    let folder = dirname(contentFilePath(dataFolder, metainfo, fileIndex));
    while (folder !== dataFolder && folder.startsWith(dataFolder + sep)) {
      folders.add(folder);
      folder = dirname(folder);
    }
  }
  return [...folders].sort((a, b) => b.length - a.length);
}
