// The controller's piece source against HTTP servers on loopback that play edges: an honest one, and ones
// that send corrupt bytes, too few bytes, a 500, a 404, or refuse the connection (faults a real edge does
// not produce on purpose, hence fake ones). Pieces come back verified whatever the order the holders are
// tried in; each kind of fault marks its edge as it should; when no holder sends good bytes the fetch is
// refused, never answered wrong.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { rankEdges } from '../../src/controller/choice.ts';
import { EdgeSource } from '../../src/controller/edge-source.ts';
import { FleetCatalog, type FleetEdge, MemoryFleetState } from '../../src/controller/index.ts';
import { NotFoundError } from '../../src/errors/index.ts';
import { encodeTorrent } from '../../src/metainfo/index.ts';
import { Bitfield } from '../../src/store/index.ts';
import { makeObject, pieceBytes } from '../wire/helpers.ts';

const PIECE = 16 * 1024;
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const verify = async (data: Uint8Array, expected: Uint8Array) =>
  createHash('sha1').update(data).digest().equals(Buffer.from(expected));

/** Five pieces, the last one short. */
const object = makeObject('fetched.bin', 5 * PIECE - 500, PIECE);

type Role = 'honest' | 'corrupt' | 'short' | 'error' | 'missing' | 'closed';
const FAULTY: Role[] = ['corrupt', 'short', 'error', 'missing', 'closed'];

interface FakeEdge {
  url: string;
  /** Piece requests it got since the test began. */
  requests: number;
  server: Server | null;
}

const edges = new Map<Role, FakeEdge>();

/** The piece the request names (`/pieces/<info hash>/<index>`), or undefined. */
function pieceOf(req: IncomingMessage): Buffer | undefined {
  const match = /^\/pieces\/([0-9a-f]{40})\/(\d+)$/.exec(req.url ?? '');
  if (match === null || match[1] !== object.infoHash || Number(match[2]) >= object.metainfo.pieceCount) return;
  return pieceBytes(object, Number(match[2]));
}

function answer(role: Role, req: IncomingMessage, res: ServerResponse): void {
  const piece = pieceOf(req);
  if (role === 'error') return void res.writeHead(500).end('broken');
  if (role === 'missing' || piece === undefined) return void res.writeHead(404).end('no such piece');
  const body = Buffer.from(piece);
  if (role === 'corrupt') body[100]! ^= 0x01;
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  res.end(role === 'short' ? body.subarray(0, body.length - 1) : body);
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  for (const role of ['honest', ...FAULTY] as Role[]) {
    const edge: FakeEdge = { url: '', requests: 0, server: null };
    const server = createServer((req, res) => {
      edge.requests += 1;
      answer(role, req, res);
    });
    edge.url = await listen(server);
    if (role === 'closed') {
      // Nothing listens there any more: connections are refused.
      await new Promise((resolve) => server.close(resolve));
    } else {
      edge.server = server;
    }
    edges.set(role, edge);
  }
});

afterAll(async () => {
  for (const { server } of edges.values()) {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  }
});

let fleet: MemoryFleetState | null = null;
let catalog: FleetCatalog;
let source: EdgeSource | null = null;

async function teardown(): Promise<void> {
  await source?.close();
  await fleet?.close();
  source = null;
  fleet = null;
}

afterEach(teardown);

function fake(role: Role): FakeEdge {
  return edges.get(role)!;
}

function edgeId(n: number): string {
  return `edge-${n.toString(16).padStart(12, '0')}`;
}

/**
 * Edge ids such that, for `piece`, the source tries them in the order of `roles` (it ranks holders by
 * rendezvous hashing of the edge id and the piece; idle edges weigh the same).
 */
function idsInOrder(roles: Role[], piece: number): Map<Role, string> {
  const pool = roles.map((_, n) => ({ record: { id: edgeId(n + 1) }, liveness: { connections: 0 } }) as FleetEdge);
  const ranked = rankEdges(pool, `${object.infoHash}:${piece}`).map((edge) => edge.record.id);
  return new Map(roles.map((role, position) => [role, ranked[position]!]));
}

/** A fleet of edges playing `roles` (by id), each up and holding `held` (default all) pieces, and a source. */
async function setup(ids: Map<Role, string>, held?: number[], setAsideMs = 10_000): Promise<EdgeSource> {
  for (const edge of edges.values()) edge.requests = 0;
  const state = await MemoryFleetState.open();
  fleet = state;
  catalog = new FleetCatalog(state, silent);
  expect(catalog.adoptMetainfo(object.infoHash, encodeTorrent(object.metainfo))).toBe(true);
  const bitfield = new Bitfield(object.metainfo.pieceCount);
  for (const piece of held ?? [...Array(object.metainfo.pieceCount).keys()]) bitfield.set(piece);
  for (const [role, id] of ids) {
    await state.addEdge({ id, name: role, keyHash: '0'.repeat(64), enrolledAt: Date.now(), draining: false });
    await state.recordHeartbeat(id, {
      address: { httpBaseUrl: fake(role).url, peerPort: 1 },
      capacityBytes: 1_000_000,
      freeBytes: 1_000_000,
      connections: 0,
      uploadBytesPerSecond: 0,
      lastSeen: Date.now(),
    });
    await state.replaceHoldings(id, { session: 'a1b2c3d4e5f60718', seq: 0 }, [
      { infoHash: object.infoHash, pieceCount: bitfield.length, bitfield: bitfield.toBuffer() },
    ]);
  }
  source = new EdgeSource({ catalog, verify, logger: silent, timeoutMs: 2000, setAsideMs });
  return source;
}

function holdersOf(piece: number): string[] {
  return catalog
    .holdersOfSpan(object.infoHash, piece, piece)
    .map((edge) => edge.record.id)
    .sort();
}

describe('edge source', () => {
  it('fetches a piece from the one honest edge wherever it comes in the order the holders are tried', async () => {
    for (let position = 0; position <= FAULTY.length; position += 1) {
      // The faulty edges in another order each time, the honest one at `position`.
      const faulty = [...FAULTY.slice(position), ...FAULTY.slice(0, position)];
      const order = [...faulty.slice(0, position), 'honest' as const, ...faulty.slice(position)];
      const piece = position % object.metainfo.pieceCount;
      const source = await setup(idsInOrder(order, piece));
      const bytes = await source.getPiece(object.infoHash, piece);
      expect(bytes.equals(pieceBytes(object, piece))).toBe(true);
      // Tried in that order: every edge before the honest one once, none after it.
      for (const [at, role] of order.entries()) {
        if (role !== 'closed') expect(fake(role).requests, `${role} at ${at} of ${order}`).toBe(at <= position ? 1 : 0);
      }
      const ahead = order.slice(0, position);
      expect(source.stats()).toEqual({
        fetched: 1,
        bytesFetched: pieceBytes(object, piece).length,
        fetchFailures: ahead.filter((role) => role !== 'corrupt').length,
        corruptPieces: ahead.includes('corrupt') ? 1 : 0,
      });
      await teardown();
    }
  });

  it('fetches every piece, the short last one too, from the first holder when it is honest', async () => {
    const source = await setup(new Map([['honest', edgeId(1)]]));
    for (let piece = 0; piece < object.metainfo.pieceCount; piece += 1) {
      expect((await source.getPiece(object.infoHash.toUpperCase(), piece)).equals(pieceBytes(object, piece))).toBe(
        true,
      );
    }
    expect(source.stats()).toMatchObject({ fetched: 5, bytesFetched: object.content.length, fetchFailures: 0 });
  });

  it('distrusts the piece a corrupt edge sent: that edge no longer counts as holding it', async () => {
    const ids = idsInOrder(['corrupt', 'honest'], 2);
    const source = await setup(ids);
    const [corrupt, honest] = [ids.get('corrupt')!, ids.get('honest')!];
    expect((await source.getPiece(object.infoHash, 2)).equals(pieceBytes(object, 2))).toBe(true);
    expect(fake('corrupt').requests).toBe(1);
    expect(holdersOf(2)).toEqual([honest]);
    expect([...catalog.copies(object.infoHash)!]).toEqual([2, 2, 1, 2, 2]);
    const edge = catalog.edge(corrupt)!;
    expect(edge.corruptPieces).toBe(1);
    expect(edge.failures).toBe(0);
    expect(source.stats()).toMatchObject({ corruptPieces: 1, fetchFailures: 0, fetched: 1 });
    // Its other pieces still count, and it still serves.
    expect(catalog.serving(edge)).toBe(true);
    expect(holdersOf(3)).toEqual([corrupt, honest].sort());
    // The piece is not asked of it again.
    expect((await source.getPiece(object.infoHash, 2)).equals(pieceBytes(object, 2))).toBe(true);
    expect(fake('corrupt').requests).toBe(1);
  });

  it('sets an edge that answers 500 aside for a while, then counts it again', async () => {
    const ids = idsInOrder(['error', 'honest'], 1);
    const source = await setup(ids, undefined, 300);
    const [failing, honest] = [ids.get('error')!, ids.get('honest')!];
    expect((await source.getPiece(object.infoHash, 1)).equals(pieceBytes(object, 1))).toBe(true);
    const edge = catalog.edge(failing)!;
    expect(catalog.serving(edge)).toBe(false);
    expect(edge.failures).toBe(1);
    expect(edge.corruptPieces).toBe(0);
    expect(source.stats()).toMatchObject({ fetchFailures: 1, corruptPieces: 0, fetched: 1 });
    // Set aside, none of its pieces count, not only the one asked.
    for (let piece = 0; piece < 5; piece += 1) expect(holdersOf(piece)).toEqual([honest]);
    // While set aside it is not asked.
    await source.getPiece(object.infoHash, 0);
    expect(fake('error').requests).toBe(1);
    await vi.waitFor(() => expect(holdersOf(1)).toEqual([failing, honest].sort()), { timeout: 3000, interval: 20 });
    expect(catalog.serving(edge)).toBe(true);
  });

  it('sets aside an edge that refuses connections, and one that sends too few bytes', async () => {
    const ids = idsInOrder(['closed', 'short', 'honest'], 4);
    const source = await setup(ids);
    expect((await source.getPiece(object.infoHash, 4)).equals(pieceBytes(object, 4))).toBe(true);
    expect(fake('short').requests).toBe(1);
    for (const role of ['closed', 'short'] as const) {
      const edge = catalog.edge(ids.get(role)!)!;
      expect(catalog.serving(edge), role).toBe(false);
      expect(edge.failures, role).toBe(1);
    }
    expect(source.stats()).toMatchObject({ fetchFailures: 2, corruptPieces: 0, fetched: 1 });
    expect(holdersOf(0)).toEqual([ids.get('honest')]);
  });

  it('drops the claim of an edge that answers 404 for that piece only; the edge keeps serving', async () => {
    const ids = idsInOrder(['missing', 'honest'], 3);
    const source = await setup(ids);
    const [missing, honest] = [ids.get('missing')!, ids.get('honest')!];
    expect((await source.getPiece(object.infoHash, 3)).equals(pieceBytes(object, 3))).toBe(true);
    expect(fake('missing').requests).toBe(1);
    expect(holdersOf(3)).toEqual([honest]);
    expect(holdersOf(2)).toEqual([missing, honest].sort());
    const edge = catalog.edge(missing)!;
    expect(catalog.serving(edge)).toBe(true);
    expect(edge.failures).toBe(1);
    expect(source.stats()).toMatchObject({ fetchFailures: 1, corruptPieces: 0, fetched: 1 });
  });

  // A 404 is a piece the edge lacks (evicted between its delta and the fetch), not bytes that failed.
  it('does not count a 404 as a corrupt piece of that edge', async () => {
    const ids = idsInOrder(['missing', 'honest'], 3);
    const source = await setup(ids);
    await source.getPiece(object.infoHash, 3);
    expect(fake('missing').requests).toBe(1);
    expect(catalog.edge(ids.get('missing')!)!.corruptPieces).toBe(0);
  });

  it('refuses with NotFoundError, never wrong bytes, when every holder fails', async () => {
    const ids = new Map(FAULTY.map((role, n) => [role, edgeId(n + 1)]));
    const source = await setup(ids, [0]);
    const fetching = source.getPiece(object.infoHash, 0);
    await expect(fetching).rejects.toBeInstanceOf(NotFoundError);
    await expect(fetching).rejects.toMatchObject({
      code: 'EDGEPEER_NOT_FOUND',
      message: expect.stringContaining('none of the 5 edges holding it sent verified bytes'),
    });
    for (const role of FAULTY) if (role !== 'closed') expect(fake(role).requests, role).toBe(1);
    expect(source.stats()).toEqual({ fetched: 0, bytesFetched: 0, fetchFailures: 4, corruptPieces: 1 });
    // Nothing holds piece 0 any more; asked again, no edge is tried.
    expect(catalog.get(object.infoHash)).toBeUndefined();
    await expect(source.getPiece(object.infoHash, 0)).rejects.toMatchObject({
      code: 'EDGEPEER_NOT_FOUND',
      message: expect.stringContaining('no serving edge holds piece 0'),
    });
    for (const role of FAULTY) if (role !== 'closed') expect(fake(role).requests, role).toBe(1);
  });

  it('refuses a piece no edge holds and an object it does not know', async () => {
    const source = await setup(new Map([['honest', edgeId(1)]]), [0, 1]);
    await expect(source.getPiece(object.infoHash, 2)).rejects.toMatchObject({ code: 'EDGEPEER_NOT_FOUND' });
    await expect(source.getPiece('0'.repeat(40), 0)).rejects.toBeInstanceOf(NotFoundError);
    expect(fake('honest').requests).toBe(0);
    expect(source.readSpanSync()).toBeUndefined();
  });

  it('stops when its signal is aborted', async () => {
    const source = await setup(new Map([['honest', edgeId(1)]]));
    const aborted = AbortSignal.abort();
    await expect(source.getPiece(object.infoHash, 0, aborted)).rejects.toMatchObject({ name: 'AbortError' });
    expect(fake('honest').requests).toBe(0);
  });
});
