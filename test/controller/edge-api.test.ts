// The controller's edge API over HTTP on loopback (createEdgeApi over an EdgeRegistry, a FleetCatalog and an
// in-memory fleet state): enrolment and refused tokens, credentials, bad messages, heartbeats, whole states
// and numbered deltas, metainfo uploads, the down sweep, and commands through the long poll.
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEdgeApi, type EdgeApi } from '../../src/controller/edge-api.ts';
import { EdgeRegistry, FleetCatalog, MemoryFleetState } from '../../src/controller/index.ts';
import { NoEdgesError } from '../../src/errors/index.ts';
import { encodeTorrent } from '../../src/metainfo/index.ts';
import { makeObject } from '../wire/helpers.ts';

const PIECE = 16 * 1024;
const HEARTBEAT_MS = 100;
const SESSION = 'a1b2c3d4e5f60718';
const silent = pino({ level: process.env.TEST_LOG ?? 'silent' });
const address = { httpBaseUrl: 'http://edge1.cdn.example:8080', peerPort: 6881 };

/** Four pieces, and three. */
const first = makeObject('first.bin', 4 * PIECE - 10, PIECE);
const second = makeObject('second.bin', 3 * PIECE, PIECE);

let clock: number;
let fleet: MemoryFleetState;
let catalog: FleetCatalog;
let registry: EdgeRegistry;
let api: EdgeApi;
let base: string;

beforeEach(async () => {
  clock = 1_700_000_000_000;
  fleet = await MemoryFleetState.open();
  catalog = new FleetCatalog(fleet, silent, () => clock);
  registry = new EdgeRegistry({ fleet, catalog, heartbeatMs: HEARTBEAT_MS, logger: silent, now: () => clock });
  api = createEdgeApi({ registry, host: '127.0.0.1', port: 0, logger: silent });
  base = await api.listen();
});

afterEach(async () => {
  registry.stop();
  await api.close();
  await fleet.close();
});

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
  json: any;
}

async function call(
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  options: { body?: unknown; raw?: Buffer | string; auth?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.auth !== undefined) headers.authorization = options.auth;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await request(`${base}${path}`, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

interface Enrolled {
  edgeId: string;
  key: string;
  auth: string;
}

async function enrol(name = 'edge1'): Promise<Enrolled> {
  const { token } = await registry.createToken(60_000, name);
  const answer = await call('POST', '/v1/enrol', { body: { token, name, address } });
  expect(answer.status).toBe(200);
  return { ...answer.json, auth: `Bearer ${answer.json.edgeId}.${answer.json.key}` };
}

function heartbeat(edge: Enrolled, seq = 0, session = SESSION, shedding?: boolean): Promise<Answer> {
  return call('POST', '/v1/edge/heartbeat', {
    auth: edge.auth,
    body: {
      session,
      seq,
      address,
      capacityBytes: 1_000_000,
      freeBytes: 400_000,
      load: { connections: 2, uploadBytesPerSecond: 1000, ...(shedding === undefined ? {} : { shedding }) },
    },
  });
}

/** A base64 wire bitfield of `pieceCount` pieces with `held` set. */
function bitfield(pieceCount: number, held: number[]): string {
  const bytes = Buffer.alloc(Math.ceil(pieceCount / 8));
  for (const index of held) bytes[index >> 3]! |= 0x80 >> (index & 7);
  return bytes.toString('base64');
}

function state(edge: Enrolled, objects: Array<[ReturnType<typeof makeObject>, number[]]>, seq = 0): Promise<Answer> {
  return call('PUT', '/v1/edge/state', {
    auth: edge.auth,
    body: {
      session: SESSION,
      seq,
      objects: objects.map(([test, held]) => ({
        infoHash: test.infoHash,
        pieceCount: test.metainfo.pieceCount,
        bitfield: bitfield(test.metainfo.pieceCount, held),
      })),
    },
  });
}

function deltas(edge: Enrolled, seq: number, test: ReturnType<typeof makeObject>, added: number[]): Promise<Answer> {
  return call('POST', '/v1/edge/deltas', {
    auth: edge.auth,
    body: {
      session: SESSION,
      seq,
      changes: [{ infoHash: test.infoHash, pieceCount: test.metainfo.pieceCount, added }],
    },
  });
}

function putMetainfo(edge: Enrolled, infoHash: string, torrent: Buffer): Promise<Answer> {
  return call('PUT', `/v1/edge/metainfo/${infoHash}`, { auth: edge.auth, raw: torrent });
}

describe('edge API: enrolment and credentials', () => {
  it('enrols an edge with a good token: an id and a key that its calls then carry', async () => {
    const { token, expiresAt } = await registry.createToken(60_000, 'edge1');
    expect(expiresAt).toBe(clock + 60_000);
    const answer = await call('POST', '/v1/enrol', { body: { token, name: 'edge1.cdn.example', address } });
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({
      edgeId: expect.stringMatching(/^edge-[0-9a-f]{12}$/),
      key: expect.any(String),
      heartbeatMs: HEARTBEAT_MS,
    });
    const { edgeId, key } = answer.json;
    expect(await fleet.edge(edgeId)).toMatchObject({ id: edgeId, name: 'edge1.cdn.example', draining: false });
    expect(await fleet.listTokens()).toEqual([expect.objectContaining({ label: 'edge1', usedBy: edgeId })]);
    // Neither the token nor the key is kept, only their hashes.
    expect(JSON.stringify(await fleet.listTokens())).not.toContain(token);
    expect(JSON.stringify(await fleet.edge(edgeId))).not.toContain(key);
    expect(registry.stats().enrolments).toBe(1);
    const beat = await heartbeat({ edgeId, key, auth: `Bearer ${edgeId}.${key}` });
    expect(beat.status).toBe(200);
    expect(await fleet.liveness(edgeId)).toMatchObject({ connections: 2, shedding: false });
    // An edge shedding load says so in its heartbeats; the controller then chooses it last.
    expect((await heartbeat({ edgeId, key, auth: `Bearer ${edgeId}.${key}` }, 0, SESSION, true)).status).toBe(200);
    expect(await fleet.liveness(edgeId)).toMatchObject({ shedding: true });
  });

  it('refuses a used, an expired and an unknown token with 403', async () => {
    const { token: used } = await registry.createToken(60_000, null);
    expect((await call('POST', '/v1/enrol', { body: { token: used, name: 'one', address } })).status).toBe(200);
    const { token: expiring } = await registry.createToken(1000, null);
    clock += 1000;
    const unknown = `ept_${randomBytes(32).toString('base64url')}`;
    for (const [token, reason] of [
      [used, 'used'],
      [expiring, 'expired'],
      [unknown, 'unknown'],
    ] as const) {
      const answer = await call('POST', '/v1/enrol', { body: { token, name: 'two', address } });
      expect(answer.status, reason).toBe(403);
      expect(answer.json.error).toMatchObject({
        code: 'EDGEPEER_ENROLMENT_REFUSED',
        message: expect.stringContaining(reason),
      });
    }
    expect(registry.stats().refusedEnrolments).toEqual({ unknown: 1, expired: 1, used: 1 });
    expect(registry.stats().enrolments).toBe(1);
    expect(await fleet.listEdges()).toHaveLength(1);
  });

  it('answers 401 to calls without a credential, with a wrong one, and from a removed edge', async () => {
    const edge = await enrol();
    const other = await enrol('edge2');
    const wrongKey = `Bearer ${edge.edgeId}.${randomBytes(32).toString('base64url')}`;
    const unknownEdge = `Bearer edge-0123456789ab.${edge.key}`;
    const cases: Array<string | undefined> = [
      undefined,
      '',
      `Bearer ${edge.edgeId}`,
      `Basic ${edge.edgeId}.${edge.key}`,
      `Bearer ${edge.edgeId}.${other.key}`,
      wrongKey,
      unknownEdge,
    ];
    for (const auth of cases) {
      for (const [method, path] of [
        ['POST', '/v1/edge/heartbeat'],
        ['GET', '/v1/edge/commands?waitMs=0'],
      ] as const) {
        const answer = await call(method, path, auth === undefined ? {} : { auth });
        expect(answer.status, `${auth} ${path}`).toBe(401);
        expect(answer.json.error.code).toBe('EDGEPEER_UNAUTHORIZED');
      }
    }
    expect(registry.stats().unauthorized).toBe(cases.length * 2);
    // The right credential works until the edge is removed.
    expect((await heartbeat(edge)).status).toBe(200);
    await fleet.removeEdge(edge.edgeId);
    const removed = await heartbeat(edge);
    expect(removed.status).toBe(401);
    expect(removed.json.error).toMatchObject({
      code: 'EDGEPEER_UNAUTHORIZED',
      message: expect.stringContaining(edge.edgeId),
    });
    expect((await heartbeat(other)).status).toBe(200);
  });

  it('refuses a malformed body with 400 naming the field, and counts it', async () => {
    const edge = await enrol();
    const good = {
      session: SESSION,
      seq: 0,
      address,
      capacityBytes: 1,
      freeBytes: 1,
      load: { connections: 0, uploadBytesPerSecond: 0 },
    };
    const before = registry.stats().badMessages;
    const cases: Array<[string, string, unknown, string]> = [
      [
        'POST',
        '/v1/edge/heartbeat',
        { ...good, address: { ...address, httpBaseUrl: 'ftp://edge1' } },
        'address.httpBaseUrl',
      ],
      ['POST', '/v1/edge/heartbeat', { ...good, seq: -1 }, 'seq'],
      ['POST', '/v1/edge/heartbeat', { ...good, extra: true }, 'heartbeat'],
      ['POST', '/v1/edge/heartbeat', { ...good, load: { connections: 0 } }, 'load.uploadBytesPerSecond'],
      ['PUT', '/v1/edge/state', { session: 'nothex', seq: 0, objects: [] }, 'session'],
      [
        'PUT',
        '/v1/edge/state',
        {
          session: SESSION,
          seq: 0,
          objects: [{ infoHash: first.infoHash.toUpperCase(), pieceCount: 4, bitfield: '' }],
        },
        'objects.0.infoHash',
      ],
      [
        'POST',
        '/v1/edge/deltas',
        { session: SESSION, seq: 1, changes: [{ infoHash: first.infoHash, pieceCount: 0, added: [] }] },
        'changes.0.pieceCount',
      ],
      ['POST', '/v1/enrol', { token: 'short', name: 'x', address }, 'token'],
    ];
    for (const [method, path, body, field] of cases) {
      const answer = await call(method as 'POST' | 'PUT', path, { auth: edge.auth, body });
      expect(answer.status, field).toBe(400);
      expect(answer.json.error, field).toMatchObject({
        code: 'EDGEPEER_INVALID_ARGUMENT',
        subject: field,
        message: expect.stringContaining(field === 'heartbeat' ? 'extra' : field),
      });
    }
    const notJson = await call('POST', '/v1/edge/heartbeat', { auth: edge.auth, raw: '{"session":' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.message).toMatch(/not JSON/);
    expect(registry.stats().badMessages - before).toBe(cases.length + 1);
    // A bitfield of the wrong size for its piece count (the edge must be up for its state to be read).
    expect((await heartbeat(edge)).status).toBe(200);
    const wrongSize = await call('PUT', '/v1/edge/state', {
      auth: edge.auth,
      body: { session: SESSION, seq: 0, objects: [{ infoHash: first.infoHash, pieceCount: 4, bitfield: 'AAA=' }] },
    });
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.json.error.message).toContain(first.infoHash);
    expect(registry.stats().badMessages - before).toBe(cases.length + 2);
    expect(await fleet.holdersOf(first.infoHash)).toEqual([]);
  });

  it('answers 404 to a route it does not have', async () => {
    const edge = await enrol();
    const answer = await call('GET', '/v1/edge/nothing', { auth: edge.auth });
    expect(answer.status).toBe(404);
    expect(answer.json.error.code).toBe('EDGEPEER_NOT_FOUND');
  });
});

describe('edge API: heartbeats and holdings', () => {
  it('asks a resync until it has a whole state, then follows numbered deltas until one is skipped', async () => {
    const edge = await enrol();
    // A state before any heartbeat is not taken: the edge's address comes with its heartbeats.
    expect((await state(edge, [[first, [0]]])).json).toEqual({ resync: true, needMetainfo: [] });
    expect((await heartbeat(edge)).json).toEqual({ resync: true, heartbeatMs: HEARTBEAT_MS, draining: false });
    expect((await state(edge, [[first, [0, 1]]])).json).toEqual({ resync: false, needMetainfo: [first.infoHash] });
    expect((await heartbeat(edge, 0)).json.resync).toBe(false);
    expect(await fleet.cursor(edge.edgeId)).toEqual({ session: SESSION, seq: 0 });

    expect((await deltas(edge, 1, first, [2])).json).toEqual({ resync: false, needMetainfo: [first.infoHash] });
    expect((await deltas(edge, 2, first, [3])).json.resync).toBe(false);
    expect((await heartbeat(edge, 2)).json.resync).toBe(false);
    // A heartbeat sent before delta 2 arrived after it (the edge's count behind ours): no reason to resync.
    expect((await heartbeat(edge, 1)).json.resync).toBe(false);
    expect((await fleet.holdersOf(first.infoHash))[0]?.bitfield).toEqual(
      Buffer.from(bitfield(4, [0, 1, 2, 3]), 'base64'),
    );

    // Delta 3 lost: 4 does not follow, and the edge is asked for its whole state.
    expect((await deltas(edge, 4, first, [0])).json).toEqual({ resync: true, needMetainfo: [] });
    expect((await heartbeat(edge, 4)).json.resync).toBe(true);
    // A new session of the edge (a restart) too.
    expect((await heartbeat(edge, 2, 'ffeeddccbbaa9988')).json.resync).toBe(true);
    expect((await state(edge, [[first, [1]]], 5)).json.resync).toBe(false);
    expect((await heartbeat(edge, 5)).json.resync).toBe(false);
    expect((await deltas(edge, 6, first, [2])).json.resync).toBe(false);
    expect(registry.stats()).toMatchObject({ states: 2, deltas: 3, heartbeats: 7 });
  });

  it('lists the objects whose metainfo it lacks and takes only the right .torrent of each', async () => {
    const edge = await enrol();
    await heartbeat(edge);
    expect(
      (
        await state(edge, [
          [first, [0, 1, 2, 3]],
          [second, [0]],
        ])
      ).json.needMetainfo.sort(),
    ).toEqual([first.infoHash, second.infoHash].sort());
    expect(catalog.get(first.infoHash)).toBeUndefined();
    const before = registry.stats().badMessages;
    for (const [infoHash, torrent] of [
      [first.infoHash, encodeTorrent(second.metainfo)],
      [first.infoHash, Buffer.from('d4:infod4:name3:abcee')],
      [first.infoHash, Buffer.alloc(0)],
      [first.infoHash.toUpperCase(), encodeTorrent(first.metainfo)],
      ['nothing', encodeTorrent(first.metainfo)],
    ] as const) {
      const answer = await putMetainfo(edge, infoHash, torrent);
      expect(answer.status, infoHash).toBe(400);
      expect(answer.json.error.code).toBe('EDGEPEER_INVALID_ARGUMENT');
    }
    expect(registry.stats().badMessages - before).toBe(5);
    expect(catalog.knowsMetainfo(first.infoHash)).toBe(false);
    expect(await fleet.metainfo(first.infoHash)).toBeUndefined();

    const answer = await putMetainfo(edge, first.infoHash, encodeTorrent(first.metainfo));
    expect(answer.status).toBe(204);
    expect(catalog.knowsMetainfo(first.infoHash)).toBe(true);
    expect(Buffer.from((await fleet.metainfo(first.infoHash))!)).toEqual(encodeTorrent(first.metainfo));
    // The holdings that came first count now.
    expect(catalog.get(first.infoHash)).toMatchObject({ piecesHeld: 4, complete: true });
    expect((await deltas(edge, 1, first, [0])).json.needMetainfo).toEqual([]);
    expect(
      (
        await state(
          edge,
          [
            [first, [0]],
            [second, [1]],
          ],
          0,
        )
      ).json.needMetainfo,
    ).toEqual([second.infoHash]);
  });

  it('marks an edge whose heartbeats stopped down at the sweep; its pieces leave the union', async () => {
    const quiet = await enrol('quiet');
    const lively = await enrol('lively');
    for (const edge of [quiet, lively]) {
      await heartbeat(edge);
      await state(edge, [[first, edge === quiet ? [0, 1] : [1]]]);
    }
    await putMetainfo(quiet, first.infoHash, encodeTorrent(first.metainfo));
    expect(catalog.get(first.infoHash)?.piecesHeld).toBe(2);
    expect(registry.downAfterMs).toBe(3 * HEARTBEAT_MS);

    clock += registry.downAfterMs;
    await heartbeat(lively);
    await registry.sweep();
    expect(await fleet.liveness(quiet.edgeId)).toBeDefined();
    expect(registry.stats().edgesDown).toBe(0);

    clock += 1;
    await registry.sweep();
    expect(await fleet.liveness(quiet.edgeId)).toBeUndefined();
    expect(await fleet.liveness(lively.edgeId)).toBeDefined();
    expect(catalog.edge(quiet.edgeId)?.liveness).toBeUndefined();
    expect(catalog.get(first.infoHash)?.piecesHeld).toBe(1);
    expect(registry.stats().edgesDown).toBe(1);
    // Swept once only.
    await registry.sweep();
    expect(registry.stats().edgesDown).toBe(1);
    // Back: asked for its whole state again.
    expect((await heartbeat(quiet, 0)).json.resync).toBe(true);
    expect((await state(quiet, [[first, [0, 1]]])).json.resync).toBe(false);
    expect(catalog.get(first.infoHash)?.piecesHeld).toBe(2);
  });

  it('does not count as held what a purge queued while the edge was down is about to remove', async () => {
    const edge = await enrol();
    await heartbeat(edge);
    await fleet.queuePurge(edge.edgeId, { infoHash: first.infoHash, pieces: null, queuedAt: clock });
    await fleet.queuePurge(edge.edgeId, { infoHash: second.infoHash, pieces: '1-2', queuedAt: clock });
    // Back with its whole state. No channel or poll takes the purges yet: they wait, and meanwhile no redirect
    // may go to this edge for what they remove.
    await state(edge, [
      [first, [0, 1, 2, 3]],
      [second, [0, 1, 2]],
    ]);
    expect(await fleet.holdersOf(first.infoHash)).toEqual([]);
    expect((await fleet.holdersOf(second.infoHash)).map((holder) => holder.bitfield)).toEqual([
      Buffer.from(bitfield(3, [0]), 'base64'),
    ]);
    expect(await fleet.queuedPurges(edge.edgeId)).toHaveLength(2);
  });

  it('takes an edge that leaves down at once', async () => {
    const edge = await enrol();
    await heartbeat(edge);
    await state(edge, [[first, [0]]]);
    const answer = await call('POST', '/v1/edge/leave', { auth: edge.auth });
    expect(answer.status).toBe(204);
    expect(await fleet.liveness(edge.edgeId)).toBeUndefined();
    expect(await fleet.holdersOf(first.infoHash)).toEqual([]);
    expect(registry.stats().edgesLeft).toBe(1);
    // Still enrolled: its credential works.
    expect((await heartbeat(edge)).json.resync).toBe(true);
  });

  it('tells a draining edge so in the heartbeat answer', async () => {
    const edge = await enrol();
    await fleet.setDraining(edge.edgeId, true);
    expect((await heartbeat(edge)).json.draining).toBe(true);
    await fleet.setDraining(edge.edgeId, false);
    expect((await heartbeat(edge)).json.draining).toBe(false);
  });
});

/** The dispatch's error (undefined when it resolved), its rejection handled from the start. */
function settle(dispatched: Promise<void>): Promise<(Error & { code?: string }) | undefined> {
  return dispatched.then(
    () => undefined,
    (err: Error) => err,
  );
}

describe('edge API: commands', () => {
  it('hands a dispatched command to the edge’s long poll and resolves when the edge reports it done', async () => {
    const edge = await enrol();
    await heartbeat(edge);
    // Started first: the poll waits for the command.
    const polled = call('GET', '/v1/edge/commands?waitMs=10000', { auth: edge.auth });
    const events: unknown[] = [];
    let settled = false;
    const dispatched = registry
      .dispatch(edge.edgeId, 'purge', { infoHashes: [first.infoHash] }, (event) => events.push(event))
      .finally(() => {
        settled = true;
      });
    const poll = await polled;
    expect(poll.status).toBe(200);
    expect(poll.json.commands).toEqual([
      { id: expect.any(String), kind: 'purge', body: { infoHashes: [first.infoHash] } },
    ]);
    const id = poll.json.commands[0].id as string;

    const progress = { kind: 'progress', source: 'x', bytesDone: 1, bytesTotal: null };
    const result = { kind: 'result', result: { infoHash: first.infoHash, status: 'purged' } };
    const reported = await call('POST', `/v1/edge/commands/${id}/events`, {
      auth: edge.auth,
      body: { events: [progress, result] },
    });
    expect(reported.status).toBe(204);
    expect(events).toEqual([progress, result]);
    expect(settled).toBe(false);
    // Another edge cannot report on it.
    const intruder = await enrol('edge2');
    const foreign = await call('POST', `/v1/edge/commands/${id}/events`, {
      auth: intruder.auth,
      body: { events: [{ kind: 'done' }] },
    });
    expect(foreign.status).toBe(400);
    expect(settled).toBe(false);
    const done = await call('POST', `/v1/edge/commands/${id}/events`, {
      auth: edge.auth,
      body: { events: [{ kind: 'done' }] },
    });
    expect(done.status).toBe(204);
    await expect(dispatched).resolves.toBeUndefined();
    // Done: no more events for it.
    const late = await call('POST', `/v1/edge/commands/${id}/events`, {
      auth: edge.auth,
      body: { events: [{ kind: 'done' }] },
    });
    expect(late.status).toBe(400);
  });

  it('rejects the dispatch with the error the edge reports, a queued command reaching the next poll', async () => {
    const edge = await enrol();
    await heartbeat(edge);
    const dispatched = settle(
      registry.dispatch(edge.edgeId, 'ingest', { sources: ['https://origin.example/a'] }, () => {}),
    );
    const poll = await call('GET', '/v1/edge/commands?waitMs=10000', { auth: edge.auth });
    expect(poll.json.commands).toEqual([
      { id: expect.any(String), kind: 'ingest', body: { sources: ['https://origin.example/a'] } },
    ]);
    const done = await call('POST', `/v1/edge/commands/${poll.json.commands[0].id}/events`, {
      auth: edge.auth,
      body: {
        events: [{ kind: 'done', error: { code: 'EDGEPEER_ORIGIN_STATUS', message: 'the origin answered 404' } }],
      },
    });
    expect(done.status).toBe(204);
    expect(await dispatched).toMatchObject({ code: 'EDGEPEER_ORIGIN_STATUS', message: 'the origin answered 404' });
    // Nothing more queued: an empty answer.
    expect((await call('GET', '/v1/edge/commands?waitMs=0', { auth: edge.auth })).json).toEqual({ commands: [] });
  });

  it('refuses to dispatch to an edge that is not up, and fails a running command when its edge goes down', async () => {
    const edge = await enrol();
    await expect(registry.dispatch(edge.edgeId, 'purge', {}, () => {})).rejects.toBeInstanceOf(NoEdgesError);
    await expect(registry.dispatch('edge-0123456789ab', 'purge', {}, () => {})).rejects.toMatchObject({
      code: 'EDGEPEER_NO_EDGES',
    });
    await heartbeat(edge);
    const dispatched = settle(registry.dispatch(edge.edgeId, 'purge', {}, () => {}));
    const poll = await call('GET', '/v1/edge/commands?waitMs=10000', { auth: edge.auth });
    expect(poll.json.commands).toHaveLength(1);
    clock += registry.downAfterMs + 1;
    await registry.sweep();
    expect(await dispatched).toMatchObject({ code: 'EDGEPEER_NO_EDGES', message: expect.stringMatching(/went down/) });
    // Its report comes too late.
    const late = await call('POST', `/v1/edge/commands/${poll.json.commands[0].id}/events`, {
      auth: edge.auth,
      body: { events: [{ kind: 'done' }] },
    });
    expect(late.status).toBe(400);
    // Events of a command nobody sent are refused.
    const unknown = await call('POST', '/v1/edge/commands/c99-deadbeef/events', {
      auth: edge.auth,
      body: { events: [{ kind: 'done' }] },
    });
    expect(unknown.status).toBe(400);
    expect(unknown.json.error.message).toContain('c99-deadbeef');
  });
});

describe('edge API: the allow-list relayed to edges (peerAuth: tracker through the controller)', () => {
  it('answers 404 when the controller follows no allow-list, 401 without the edge credential', async () => {
    const edge = await enrol();
    expect((await call('GET', '/v1/edge/peer-auth/allowed', { auth: edge.auth })).status).toBe(404);
    expect((await call('GET', '/v1/edge/peer-auth/allowed')).status).toBe(401);
  });

  it("answers the list with the tracker's version, TTL and expiry times; a poll at that version waits for the next", async () => {
    const { AllowList } = await import('../../src/peer-auth/index.ts');
    const relayed = new AllowList(60_000);
    const relayApi = createEdgeApi({ registry, host: '127.0.0.1', port: 0, logger: silent, allowList: relayed });
    const relayBase = await relayApi.listen();
    try {
      const edge = await enrol();
      const expiresAt = Date.now() + 3_600_000;
      const entry = { address: '192.0.2.7', infoHash: 'ab'.repeat(20), subscriber: 'sip:alice@ims.example', expiresAt };
      relayed.replace({ version: 12, ttlMs: 3_660_000, entries: [entry] });
      const read = async (query: string) => {
        const response = await request(`${relayBase}/v1/edge/peer-auth/allowed${query}`, {
          headers: { authorization: edge.auth },
        });
        return { status: response.statusCode, json: (await response.body.json()) as Record<string, unknown> };
      };
      expect(await read('')).toEqual({ status: 200, json: { version: 12, ttlMs: 3_660_000, entries: [entry] } });
      // A poll at version 12 is answered when the tracker's next version comes, not before.
      let answered = false;
      const poll = read('?since=12&wait=20').then((answer) => {
        answered = true;
        return answer;
      });
      await new Promise((resolve) => setImmediate(resolve));
      expect(answered).toBe(false);
      relayed.replace({ version: 13, ttlMs: 3_660_000, entries: [] });
      expect((await poll).json).toMatchObject({ version: 13, entries: [] });
      expect((await read('?since=12&wait=20')).json).toMatchObject({ version: 13 });
    } finally {
      await relayApi.close();
    }
  });
});
