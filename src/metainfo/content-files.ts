// Lists a file or directory as a torrent's content the way mktorrent 1.1 (Debian) does, so that the
// same content gives the same info hash. What mktorrent does, read in its source (ftw.c, init.c) and
// checked by test/interop/metainfo-mktorrent.test.ts:
// - The name is the basename of the target, trailing slashes stripped.
// - A target that is a regular file makes a single-file torrent; a directory makes a multi-file one, even
//   with a single file in it.
// - Every entry is stat()ed, so symlinks are followed: a link to a file is a file with the target's bytes,
//   a link to a directory is walked like a directory. A dangling link is a fatal error.
//   mktorrent has no loop check (a link to an ancestor fails once the kernel reports ELOOP); here a
//   directory that is its own ancestor is refused at once with a clear error.
// - Hidden files (dot files) are included; only "." and ".." are skipped.
// - Entries that are neither regular files nor directories (FIFOs, sockets, devices) are skipped.
// - Empty directories leave no trace; zero-length files are listed.
// - Files are sorted by their full relative path compared byte by byte (strcmp), so "a-b" < "a.txt" <
//   "a/z" < "b" and "B" < "a". (libtorrent lists a directory's files before its subdirectories, which
//   gives another order and another hash.)
// Differences on purpose: mktorrent skips files it cannot read with a warning; here that is an error,
// since silently dropping a file would publish incomplete content. A directory with no files at all is
// refused too: mktorrent writes a torrent for it that no client accepts.
import type { Stats } from 'node:fs';
import { access, constants, readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fromSystemError, InvalidArgumentError, SourceUnreadableError } from '../errors/index.ts';

export interface ContentFile {
  /** Components below the torrent's name; [] for a single-file torrent. */
  path: string[];
  length: number;
  absolutePath: string;
}

export interface ContentListing {
  name: string;
  multiFile: boolean;
  files: ContentFile[];
}

export async function listContentFiles(root: string): Promise<ContentListing> {
  const absoluteRoot = resolve(root);
  // resolve() drops trailing slashes and resolves "." and "..", where mktorrent would name the torrent ".".
  const name = basename(absoluteRoot);
  if (name === '') throw new InvalidArgumentError(`${root}: cannot share the root directory`, { subject: root });
  const rootStats = await statOrThrow(absoluteRoot, root);
  if (rootStats.isFile()) {
    await checkReadable(absoluteRoot);
    return { name, multiFile: false, files: [{ path: [], length: rootStats.size, absolutePath: absoluteRoot }] };
  }
  if (!rootStats.isDirectory()) {
    throw new InvalidArgumentError(`${root}: neither a regular file nor a directory`, { subject: root });
  }
  const files: ContentFile[] = [];
  await walkDirectory(absoluteRoot, [], [identityOf(rootStats)], files);
  if (files.length === 0) {
    throw new InvalidArgumentError(`${root}: the directory holds no files`, { subject: root });
  }
  const keyed = files.map((file) => ({ file, key: Buffer.from(file.path.join('/')) }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return { name, multiFile: true, files: keyed.map(({ file }) => file) };
}

async function walkDirectory(
  directory: string,
  relative: string[],
  ancestors: string[],
  files: ContentFile[],
): Promise<void> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    throw fromSystemError(err, directory);
  }
  await Promise.all(
    names.map(async (entryName) => {
      const absolutePath = join(directory, entryName);
      const path = [...relative, entryName];
      const stats = await statOrThrow(absolutePath, absolutePath);
      if (stats.isFile()) {
        await checkReadable(absolutePath);
        files.push({ path, length: stats.size, absolutePath });
      } else if (stats.isDirectory()) {
        const identity = identityOf(stats);
        if (ancestors.includes(identity)) {
          throw new SourceUnreadableError(`${absolutePath}: symlink loop (a directory inside itself)`, {
            subject: absolutePath,
          });
        }
        await walkDirectory(absolutePath, path, [...ancestors, identity], files);
      }
    }),
  );
}

async function statOrThrow(absolutePath: string, subject: string): Promise<Stats> {
  try {
    return await stat(absolutePath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SourceUnreadableError(`${subject}: no such file or directory (or a dangling symlink)`, {
        subject,
        cause: err,
      });
    }
    throw fromSystemError(err, subject);
  }
}

async function checkReadable(absolutePath: string): Promise<void> {
  try {
    await access(absolutePath, constants.R_OK);
  } catch (err) {
    throw fromSystemError(err, absolutePath);
  }
}

function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}
