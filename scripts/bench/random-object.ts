// A bench's object: `sizeMib` MiB of random bytes ingested into `store` as one single-file object named
// object.bin, its pieces hashed on `pool` (the in-process benchmarks' shared set-up).
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HashPool } from '../../src/hashing/index.ts';
import { buildMetainfo, type Metainfo } from '../../src/metainfo/index.ts';
import type { StagingStore, Store } from '../../src/store/index.ts';

export async function ingestRandomObject(
  store: Store & StagingStore,
  pool: HashPool,
  sizeMib: number,
  pieceLength: number,
): Promise<{ infoHash: string; metainfo: Metainfo }> {
  const staging = await store.createStaging();
  const length = sizeMib * 1024 * 1024;
  await writeFile(join(staging, 'object.bin'), randomBytes(length));
  const pieceHashes = await pool.hashFiles([{ path: join(staging, 'object.bin'), length }], pieceLength);
  const metainfo = buildMetainfo({
    name: 'object.bin',
    pieceLength,
    multiFile: false,
    files: [{ path: [], length }],
    pieceHashes,
  });
  const { infoHash } = await store.adoptStaging(staging, metainfo);
  return { infoHash, metainfo };
}
