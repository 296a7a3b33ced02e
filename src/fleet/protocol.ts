// The protocol between edges and their controller (TR 23.844 6.2.2): JSON over HTTP on the controller's
// edge listener. An edge enrols once (a one-time token for its own key), then every call carries
// `Authorization: Bearer <edgeId>.<key>`. The edge sends its whole state on (re)connect and deltas as
// pieces come and go, each delta numbered: a gap, a controller restart or a new edge session makes the
// controller answer `resync` and the edge sends its whole state again. Heartbeats carry load and free space;
// commands (ingest, purge) reach the edge at once. Both travel on the edge's channel: one HTTP/1.1 upgrade
// (`EDGE_CHANNEL_PROTOCOL`) per edge, then one JSON message per line each way, the controller answering a
// heartbeat only when the answer changes or every few heartbeats (a request and an answer per heartbeat cost
// a controller of 1,000 edges most of its CPU). The same messages exist as plain HTTP calls (a heartbeat
// POST, a command long poll) for edges behind proxies that do not pass upgrades. Every message is checked
// here (zod) before either side acts on it.
import { z } from 'zod';
import { InvalidArgumentError } from '../errors/index.ts';

export const EDGE_API = {
  enrol: '/v1/enrol',
  heartbeat: '/v1/edge/heartbeat',
  state: '/v1/edge/state',
  deltas: '/v1/edge/deltas',
  metainfo: '/v1/edge/metainfo/',
  commands: '/v1/edge/commands',
  leave: '/v1/edge/leave',
  channel: '/v1/edge/channel',
  /** The tracker's allow-list as the controller relays it (GET, long poll as at the tracker; docs/auth.md). */
  peerAuth: '/v1/edge/peer-auth/allowed',
} as const;

/** The `Upgrade` token of an edge's channel. */
export const EDGE_CHANNEL_PROTOCOL = 'edgepeer-edge/1';
/** The controller answers at least every this many heartbeats on a channel: how an edge knows it is heard. */
export const CHANNEL_ACK_EVERY = 3;
/** Longest line an edge sends on its channel (a heartbeat is ~300 bytes). */
export const MAX_CHANNEL_EDGE_LINE = 64 * 1024;
/** Longest line the controller sends (commands carry admin API bodies, such as manifests of sources). */
export const MAX_CHANNEL_CONTROLLER_LINE = 64 * 1024 * 1024;

/** Bodies larger than this are refused: a full state of 100,000 objects of 10,000 pieces fits. */
export const MAX_EDGE_BODY_BYTES = 256 * 1024 * 1024;

const infoHash = z.string().regex(/^[0-9a-f]{40}$/, { error: 'must be 40 lower-case hex digits' });
const count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const pieceCount = z
  .number()
  .int()
  .min(1)
  .max(2 ** 26);
const session = z.string().regex(/^[0-9a-f]{16,64}$/, { error: 'must be 16 to 64 hex digits' });
const seq = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const pieceIndexes = z
  .array(
    z
      .number()
      .int()
      .min(0)
      .max(2 ** 26),
  )
  .max(2 ** 26);

/** Where peers and clients reach an edge: what the controller redirects to and fetches pieces from. */
const edgeAddress = z.strictObject({
  /** The edge's HTTP base URL (its public URL if set), e.g. http://edge1.cdn.example:8080. */
  httpBaseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  peerPort: z.number().int().min(0).max(65535),
});

export const enrolRequest = z.strictObject({
  token: z.string().min(16).max(256),
  name: z.string().min(1).max(253),
  address: edgeAddress,
});

export const enrolResponse = z.strictObject({
  edgeId: z.string(),
  key: z.string(),
  heartbeatMs: count,
});

export const heartbeatRequest = z.strictObject({
  session,
  /** The number of the last delta the edge sent in this session (0 right after its full state). */
  seq,
  address: edgeAddress,
  capacityBytes: count,
  freeBytes: count,
  load: z.strictObject({
    /** Open peer wire and HTTP connections. */
    connections: count,
    /** Bytes sent to peers and clients since the last heartbeat, per second. */
    uploadBytesPerSecond: count,
    /** Refusing new requests now (load shedding, src/qos): the controller sends new ones elsewhere. */
    shedding: z.boolean().optional(),
  }),
});

export const heartbeatResponse = z.strictObject({
  /** The controller lost track of this edge's state (restart, gap, unknown session): send the whole state. */
  resync: z.boolean(),
  heartbeatMs: count,
  /** The operator asked this edge to take no new requests. */
  draining: z.boolean(),
});

const heldObject = z.strictObject({
  infoHash,
  pieceCount,
  /** BitTorrent wire-format bitfield, base64. */
  bitfield: z.string().max(2 ** 24),
});

export const stateRequest = z.strictObject({
  session,
  seq,
  objects: z.array(heldObject),
});

const objectChange = z.strictObject({
  infoHash,
  pieceCount,
  added: pieceIndexes.optional(),
  removed: pieceIndexes.optional(),
  /** The whole object left the edge. */
  gone: z.boolean().optional(),
});

export const deltasRequest = z.strictObject({
  session,
  /** One more than the last delta sent (or than the full state's seq). */
  seq,
  changes: z.array(objectChange),
});

/** The answer to a full state or a delta: the objects whose metainfo the controller lacks. */
export const holdingsResponse = z.strictObject({
  resync: z.boolean(),
  needMetainfo: z.array(infoHash),
});

const ingestCommand = z.strictObject({
  id: z.string(),
  kind: z.literal('ingest'),
  /** An admin API ingest body (src/admin/requests.ts checks it on the edge). */
  body: z.unknown(),
});
const purgeCommand = z.strictObject({ id: z.string(), kind: z.literal('purge'), body: z.unknown() });
export const commandsResponse = z.strictObject({
  commands: z.array(z.discriminatedUnion('kind', [ingestCommand, purgeCommand])),
});

/** A line an edge sends on its channel. */
export const channelEdgeMessage = z.strictObject({ heartbeat: heartbeatRequest });

/** A line the controller sends on an edge's channel. */
export const channelControllerMessage = z.union([
  z.strictObject({ heartbeat: heartbeatResponse }),
  commandsResponse,
  /** The channel is refused from now on (the edge was removed): the controller closes it after this line. */
  z.strictObject({ error: z.strictObject({ code: z.string(), message: z.string() }) }),
]);

/** What an edge reports of a command: progress, one result per object, the end (with an error if it failed). */
const commandEvent = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('progress'), source: z.string(), bytesDone: count, bytesTotal: count.nullable() }),
  z.strictObject({ kind: z.literal('result'), result: z.record(z.string(), z.unknown()) }),
  z.strictObject({
    kind: z.literal('done'),
    error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
  }),
]);
export const commandEventsRequest = z.strictObject({ events: z.array(commandEvent) });

export type EdgeAddress = z.infer<typeof edgeAddress>;
export type EnrolRequest = z.infer<typeof enrolRequest>;
export type EnrolResponse = z.infer<typeof enrolResponse>;
export type HeartbeatRequest = z.infer<typeof heartbeatRequest>;
export type HeartbeatResponse = z.infer<typeof heartbeatResponse>;
export type HeldObject = z.infer<typeof heldObject>;
export type StateRequest = z.infer<typeof stateRequest>;
export type ObjectChange = z.infer<typeof objectChange>;
export type DeltasRequest = z.infer<typeof deltasRequest>;
export type HoldingsResponse = z.infer<typeof holdingsResponse>;
export type EdgeCommand = z.infer<typeof commandsResponse>['commands'][number];
export type CommandEvent = z.infer<typeof commandEvent>;
export type ChannelControllerMessage = z.infer<typeof channelControllerMessage>;

/** `value` checked against `schema`, or InvalidArgumentError naming the first field that is wrong. */
export function parseMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.map(String).join('.');
  throw new InvalidArgumentError(`${what}: ${field ? `${field} ` : ''}${issue.message}`, {
    subject: field || what,
  });
}

/** The `Authorization` value of an edge's calls. */
export function edgeAuthorization(edgeId: string, key: string): string {
  return `Bearer ${edgeId}.${key}`;
}
