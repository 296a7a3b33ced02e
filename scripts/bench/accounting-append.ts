// The kernel's share of an accounting record: appending lines of a given size to a growing file as the
// writer thread does (writev of 256 KiB chunks, an fdatasync every SYNC_EVERY_MIB), CPU time of this thread
// (user and system) per line. Sizes take turns round by round; every round appends to a file of its own, kept
// until the end, so each takes page-cache pages the others have not freed (on this VM a fresh page costs
// ~10x a reused one: docs/benchmarks.md, issue 17).
// usage: node scripts/bench/accounting-append.ts [LINES_PER_ROUND=500000] [ROUNDS=4] [SIZES=426,372,301]
//   env: DIR (default a new folder in the OS temp dir; removed at the end), SYNC_EVERY_MIB (default 4)
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const lines = Number(process.argv[2] ?? 500_000);
const rounds = Number(process.argv[3] ?? 4);
const sizes = (process.argv[4] ?? '426,372,301').split(',').map(Number);
const syncEvery = Number(process.env.SYNC_EVERY_MIB ?? 4) * 1024 * 1024;
const dir = mkdtempSync(join(process.env.DIR ?? tmpdir(), 'edgepeer-append-'));
const CHUNK = 256 * 1024;
const chunk = Buffer.alloc(CHUNK, 0x61);

try {
  const results = new Map<number, Array<{ user: number; system: number }>>(sizes.map((size) => [size, []]));
  for (let round = 1; round <= rounds; round += 1) {
    for (const size of round % 2 === 0 ? [...sizes].reverse() : sizes) {
      const fd = openSync(join(dir, `round-${round}-${size}.jsonl`), 'a');
      let left = lines * size;
      let sinceSync = 0;
      const before = process.threadCpuUsage();
      while (left > 0) {
        const bytes = Math.min(left, 8 * CHUNK);
        const buffers: Buffer[] = [];
        for (let rest = bytes; rest > 0; rest -= CHUNK) buffers.push(rest >= CHUNK ? chunk : chunk.subarray(0, rest));
        writevSync(fd, buffers);
        left -= bytes;
        sinceSync += bytes;
        if (sinceSync >= syncEvery) {
          fdatasyncSync(fd);
          sinceSync = 0;
        }
      }
      fdatasyncSync(fd);
      const used = process.threadCpuUsage(before);
      closeSync(fd);
      results.get(size)?.push({ user: (used.user * 1000) / lines, system: (used.system * 1000) / lines });
      console.log(
        `round ${round} ${size} B a line: user ${((used.user * 1000) / lines).toFixed(0)} ns, system ${((used.system * 1000) / lines).toFixed(0)} ns a line`,
      );
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  for (const [size, list] of results) {
    console.log(
      `${size} B a line: median user ${median(list.map((r) => r.user)).toFixed(0)} ns, system ${median(list.map((r) => r.system)).toFixed(0)} ns a line (lowest system ${Math.min(...list.map((r) => r.system)).toFixed(0)} ns)`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
