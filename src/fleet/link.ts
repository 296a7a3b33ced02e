// An edge's link to its controller (TR 23.844 6.2.2: the controller registers and announces for the CDN,
// edges only tell it what they hold). Enrols once with a one-time token and keeps the key it gets in the
// data dir; then heartbeats (address, load, free space), the whole state of its holdings when the
// controller asks (first contact, a restart, a gap), numbered deltas as pieces come and go, the metainfo
// the controller lacks, and commands (ingest, purge). Heartbeats and commands travel on one channel (an
// upgraded HTTP/1.1 connection, protocol.ts), or as plain calls and a long poll where the upgrade does not
// get through. Nothing here throws into the agent once started: a controller that is away is retried with
// backoff and logged.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { Agent, type Dispatcher } from 'undici';
import {
  ConfigError,
  ControllerUnreachableError,
  EnrolmentRefusedError,
  isEdgepeerError,
  UnauthorizedError,
} from '../errors/index.ts';
import type { Logger } from '../log/index.ts';
import { encodeTorrent } from '../metainfo/index.ts';
import type { Catalog, CatalogObject, RemovalReason } from '../store/index.ts';
import { readLines } from './lines.ts';
import {
  CHANNEL_ACK_EVERY,
  type ChannelControllerMessage,
  type CommandEvent,
  channelControllerMessage,
  commandsResponse,
  EDGE_API,
  EDGE_CHANNEL_PROTOCOL,
  type EdgeAddress,
  type EdgeCommand,
  edgeAuthorization,
  enrolResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  heartbeatResponse,
  holdingsResponse,
  MAX_CHANNEL_CONTROLLER_LINE,
  type ObjectChange,
  parseMessage,
} from './protocol.ts';

export interface EdgeCredential {
  controller: string;
  edgeId: string;
  key: string;
}

export interface EdgeLinkOptions {
  /**
   * The controllers' edge APIs, e.g. http://controller1.cdn.example:7000: the first is used until it fails,
   * then the next (controllers sharing a fleet state in Redis all take any of their edges).
   */
  controllerUrls: string[];
  /** Where the credential is kept (mode 0600). */
  credentialFile: string;
  /** The one-time enrolment token, needed only while no credential is kept. */
  enrolToken: string | null;
  /** The name the edge enrols under; default the host name. */
  name?: string;
  catalog: Pick<Catalog, 'list' | 'get' | 'metainfoOf' | 'on' | 'off'>;
  /** Where clients and peers reach this edge (read at every heartbeat). */
  address: () => EdgeAddress;
  /** Open connections, bytes sent so far (a counter), and whether load shedding refuses new requests. */
  load: () => { connections: number; uploadedBytes: number; shedding?: boolean };
  /** The data dir's file system. */
  space: () => Promise<{ capacityBytes: number; freeBytes: number }>;
  /** Runs a command from the controller, telling `report` its progress and results; rejects if it failed. */
  runCommand: (command: EdgeCommand, report: (event: CommandEvent) => void) => Promise<void>;
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** Delay before pending deltas go out, ms; default 50 (changes meanwhile travel together). */
  deltaDelayMs?: number;
}

export interface EdgeLinkStatus {
  controller: string;
  edgeId: string | null;
  connected: boolean;
  draining: boolean;
  lastHeartbeatAt: number | null;
  statesSent: number;
  deltasSent: number;
  commandsRun: number;
  lastError: string | null;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** Command ids kept to run each once: far more than can be in flight. */
const COMMANDS_REMEMBERED = 10_000;
/** Time for the controller to take (or refuse) the channel's upgrade. */
const CHANNEL_OPEN_TIMEOUT_MS = 10_000;

/** The controller (or a proxy before it) does not take the channel's upgrade: plain calls it is. */
class ChannelUnavailable extends Error {}

export class EdgeLink {
  readonly #options: EdgeLinkOptions;
  readonly #dispatcher: Agent;
  /** The controller in use, an index in controllerUrls. */
  #current = 0;
  readonly #session = randomBytes(8).toString('hex');
  readonly #stopped = new AbortController();
  #credential: EdgeCredential | null = null;
  #heartbeatMs = 2000;
  /** The last delta number the controller took in this session; null until it has the whole state. */
  #seq: number | null = null;
  #pending: ObjectChange[] = [];
  readonly #pieceCounts = new Map<string, number>();
  #flushTimer: NodeJS.Timeout | null = null;
  #sending: Promise<void> = Promise.resolve();
  #lastUploaded = 0;
  #lastHeartbeatAt: number | null = null;
  /** Ids of the commands taken, so that one delivered twice runs once. */
  readonly #commandsTaken = new Set<string>();
  /** Heartbeats as plain calls and commands by long poll, once the controller did not take a channel. */
  #plainCalls = false;
  #loops: Promise<unknown>[] = [];
  readonly #status: EdgeLinkStatus;
  readonly #listeners = {
    added: (infoHash: string, pieces: number[]) => this.#change(infoHash, { added: pieces }),
    removed: (infoHash: string, pieces: number[]) => this.#change(infoHash, { removed: pieces }),
    objectRemoved: (infoHash: string, _reason: RemovalReason) => this.#change(infoHash, { gone: true }),
    // Staged content (a new file or URL) arrives whole: the object comes with its pieces, in one event.
    objectAdded: (object: CatalogObject) => {
      const held: number[] = [];
      for (let piece = 0; piece < object.pieceCount; piece += 1) if (object.bitfield.get(piece)) held.push(piece);
      if (held.length > 0) this.#change(object.infoHash, { added: held });
    },
  };

  constructor(options: EdgeLinkOptions) {
    this.#options = options;
    if (options.controllerUrls.length === 0) {
      throw new ConfigError('no controller URL', { subject: 'controller.url' });
    }
    for (const url of options.controllerUrls) {
      if (!/^https?:\/\/[^/\s]+/.test(url)) {
        throw new ConfigError(`controller URL ${url} is not http(s)`, { subject: 'controller.url' });
      }
    }
    this.#dispatcher = new Agent({ connections: 4, headersTimeout: 40_000, bodyTimeout: 40_000 });
    this.#status = {
      controller: options.controllerUrls[0] as string,
      edgeId: null,
      connected: false,
      draining: false,
      lastHeartbeatAt: null,
      statesSent: 0,
      deltasSent: 0,
      commandsRun: 0,
      lastError: null,
    };
  }

  /**
   * Takes the kept credential, or enrols with the token (EnrolmentRefusedError if the controller refuses
   * it; ConfigError when there is neither), then runs in the background.
   */
  async start(): Promise<void> {
    this.#credential = await this.#readCredential();
    if (this.#credential === null) {
      if (this.#options.enrolToken === null) {
        throw new ConfigError(
          `this edge has no credential for ${this.#url} yet: give it an enrolment token (--enrol-token)`,
          { subject: 'controller.enrolToken' },
        );
      }
      this.#credential = await this.#enrol(this.#options.enrolToken);
    }
    this.#status.edgeId = this.#credential.edgeId;
    const { catalog } = this.#options;
    catalog.on('object-added', this.#listeners.objectAdded);
    catalog.on('pieces-added', this.#listeners.added);
    catalog.on('pieces-removed', this.#listeners.removed);
    catalog.on('object-removed', this.#listeners.objectRemoved);
    this.#lastUploaded = this.#options.load().uploadedBytes;
    this.#loops = [this.#heartbeatLoop()];
  }

  /** The controller in use. */
  get #url(): string {
    return this.#options.controllerUrls[this.#current] as string;
  }

  /**
   * A URL of the controller in use (`path` one of EDGE_API's) and this edge's Authorization field, for
   * calls made by others (the allow-list's long poll). Only once started.
   */
  endpoint(path: string): { url: string; authorization: string } {
    const credential = this.#credential;
    if (credential === null) throw new Error('the edge link is not started');
    return { url: new URL(path, this.#url).href, authorization: edgeAuthorization(credential.edgeId, credential.key) };
  }

  status(): EdgeLinkStatus {
    return { ...this.#status, lastHeartbeatAt: this.#lastHeartbeatAt };
  }

  /** Tells the controller this edge leaves (its pieces leave the union at once), then stops. */
  async stop(): Promise<void> {
    if (this.#stopped.signal.aborted) return;
    this.#stopped.abort();
    const { catalog } = this.#options;
    catalog.off('object-added', this.#listeners.objectAdded);
    catalog.off('pieces-added', this.#listeners.added);
    catalog.off('pieces-removed', this.#listeners.removed);
    catalog.off('object-removed', this.#listeners.objectRemoved);
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    await Promise.allSettled(this.#loops);
    if (this.#credential !== null && this.#status.connected) {
      await this.#call('POST', EDGE_API.leave, undefined, AbortSignal.timeout(2000)).catch(() => {});
    }
    await this.#dispatcher.close();
  }

  async #enrol(token: string): Promise<EdgeCredential> {
    const response = await this.#call('POST', EDGE_API.enrol, {
      token,
      name: this.#options.name ?? hostname(),
      address: this.#options.address(),
    });
    const enrolled = parseMessage(enrolResponse, response, 'enrolment answer');
    const credential = { controller: this.#url, edgeId: enrolled.edgeId, key: enrolled.key };
    await this.#writeCredential(credential);
    this.#heartbeatMs = enrolled.heartbeatMs;
    this.#options.logger.info(
      { edgeId: credential.edgeId, controller: credential.controller },
      'enrolled with the controller',
    );
    return credential;
  }

  async #heartbeatLoop(): Promise<void> {
    let failures = 0;
    const heard = () => {
      if (failures > 0) this.#options.logger.info({ controller: this.#url }, 'controller reachable again');
      failures = 0;
      this.#status.connected = true;
      this.#status.lastError = null;
    };
    while (!this.#stopped.signal.aborted) {
      try {
        if (this.#plainCalls) {
          await this.#heartbeat();
          heard();
          await this.#sleep(this.#heartbeatMs);
        } else {
          await this.#channel(heard);
        }
      } catch (err) {
        if (this.#stopped.signal.aborted) return;
        if (err instanceof ChannelUnavailable) {
          this.#options.logger.warn(
            { controller: this.#url, err: err.message },
            'the controller takes no channel: heartbeats as plain calls, commands by long poll',
          );
          this.#plainCalls = true;
          this.#loops.push(this.#commandLoop());
          continue;
        }
        failures += 1;
        this.#status.connected = false;
        this.#status.lastError = (err as Error).message;
        this.#seq = null;
        // The next controller of the fleet, if there are several: it asks for the whole state.
        this.#current = (this.#current + 1) % this.#options.controllerUrls.length;
        this.#status.controller = this.#url;
        if (failures === 1 || failures % 10 === 0) {
          const removed = err instanceof UnauthorizedError;
          this.#options.logger[removed ? 'error' : 'warn'](
            { err: (err as Error).message, failures },
            removed
              ? 'the controller refuses this edge (removed?): enrol it again with a new token'
              : 'controller unreachable; retrying',
          );
        }
        await this.#sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 10)));
      }
    }
  }

  /** One heartbeat as a plain call. */
  async #heartbeat(): Promise<void> {
    const message = await this.#heartbeatMessage();
    const answer = parseMessage(
      heartbeatResponse,
      await this.#call('POST', EDGE_API.heartbeat, message),
      'heartbeat answer',
    );
    await this.#answered(answer);
  }

  /** What a heartbeat says now; once any delta in flight was answered (its seq would race the heartbeat's). */
  async #heartbeatMessage(): Promise<HeartbeatRequest> {
    const now = Date.now();
    const load = this.#options.load();
    const elapsedS = this.#lastHeartbeatAt === null ? 1 : Math.max(0.001, (now - this.#lastHeartbeatAt) / 1000);
    const uploadBytesPerSecond = Math.max(0, Math.round((load.uploadedBytes - this.#lastUploaded) / elapsedS));
    this.#lastUploaded = load.uploadedBytes;
    this.#lastHeartbeatAt = now;
    const space = await this.#options.space();
    await this.#sending;
    return {
      session: this.#session,
      seq: this.#seq ?? 0,
      address: this.#options.address(),
      ...space,
      load: { connections: load.connections, uploadBytesPerSecond, shedding: load.shedding === true },
    };
  }

  /** A heartbeat's answer: the period, draining, and the whole state when the controller lacks it. */
  async #answered(answer: HeartbeatResponse): Promise<void> {
    this.#heartbeatMs = answer.heartbeatMs;
    this.#status.draining = answer.draining;
    if (answer.resync || this.#seq === null) await this.#serially(() => this.#sendState());
  }

  /**
   * Heartbeats and commands over the channel, until it ends: always by an error saying why (the controller
   * went away, refused this edge, or stopped answering), but for a stop. `heard` is called at every answer.
   */
  async #channel(heard: () => void): Promise<void> {
    const socket = await this.#openChannel();
    let timer: NodeJS.Timeout | undefined;
    let onStop = () => {};
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err: Error) => {
          reject(err);
          socket.destroy();
        };
        onStop = () => {
          resolve();
          socket.destroy();
        };
        this.#stopped.signal.addEventListener('abort', onStop);
        let lastHeardAt = Date.now();
        const handle = (message: ChannelControllerMessage) => {
          lastHeardAt = Date.now();
          if ('error' in message) {
            const text = `controller: ${message.error.message}`;
            fail(
              message.error.code === 'EDGEPEER_UNAUTHORIZED'
                ? new UnauthorizedError(text)
                : new ControllerUnreachableError(text),
            );
          } else if ('commands' in message) {
            for (const command of message.commands) void this.#run(command);
          } else {
            heard();
            this.#answered(message.heartbeat).catch(fail);
          }
        };
        readLines(socket, MAX_CHANNEL_CONTROLLER_LINE, (line, tooLong) => {
          try {
            if (tooLong) throw new Error(`a line longer than ${MAX_CHANNEL_CONTROLLER_LINE} bytes`);
            handle(parseMessage(channelControllerMessage, JSON.parse(line), 'channel message'));
          } catch (err) {
            fail(new ControllerUnreachableError(`controller ${this.#url}: ${(err as Error).message}`));
          }
        });
        socket.on('error', (err) => fail(new ControllerUnreachableError(`controller ${this.#url}: ${err.message}`)));
        socket.on('end', () => socket.destroy());
        socket.on('close', () => fail(new ControllerUnreachableError(`controller ${this.#url}: the channel closed`)));
        const beat = async () => {
          const silentMs = Date.now() - lastHeardAt;
          // The controller answers every few heartbeats: silence beyond that is a controller gone quiet.
          if (silentMs > this.#heartbeatMs * (CHANNEL_ACK_EVERY + 2)) {
            fail(
              new ControllerUnreachableError(`controller ${this.#url}: no answer on the channel for ${silentMs} ms`),
            );
            return;
          }
          const message = await this.#heartbeatMessage();
          if (socket.destroyed) return;
          socket.write(`${JSON.stringify({ heartbeat: message })}\n`);
          timer = setTimeout(() => void beat().catch(fail), this.#heartbeatMs);
        };
        void beat().catch(fail);
      });
    } finally {
      clearTimeout(timer);
      this.#stopped.signal.removeEventListener('abort', onStop);
      socket.destroy();
    }
  }

  /** The upgraded connection; ChannelUnavailable when the controller or a proxy answers without upgrading. */
  #openChannel(): Promise<Socket> {
    const url = new URL(EDGE_API.channel, this.#url);
    const headers: Record<string, string> = { connection: 'Upgrade', upgrade: EDGE_CHANNEL_PROTOCOL };
    if (this.#credential !== null)
      headers.authorization = edgeAuthorization(this.#credential.edgeId, this.#credential.key);
    const request: ClientRequest = (url.protocol === 'https:' ? httpsRequest : httpRequest)(url, {
      headers,
      timeout: CHANNEL_OPEN_TIMEOUT_MS,
    });
    return new Promise((resolve, reject) => {
      request.on('upgrade', (_response: IncomingMessage, socket: Socket, head: Buffer) => {
        if (head.length > 0) socket.unshift(head);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 60_000);
        resolve(socket);
      });
      request.on('response', (response: IncomingMessage) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', () => {});
        response.on('end', () => {
          const status = response.statusCode ?? 0;
          let message = `status ${status}`;
          try {
            message = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error: { message: string } }).error
              .message;
          } catch {}
          if (status === 404 || status === 426 || status === 400) reject(new ChannelUnavailable(message));
          else if (status === 401) reject(new UnauthorizedError(`controller: ${message}`));
          else reject(new ControllerUnreachableError(`controller ${this.#url}: ${message}`));
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer in ${CHANNEL_OPEN_TIMEOUT_MS} ms`)));
      request.on('error', (err) => reject(new ControllerUnreachableError(`controller ${this.#url}: ${err.message}`)));
      request.end();
    });
  }

  /** The whole state: every object held, as it is now; what was pending is in it. */
  async #sendState(): Promise<void> {
    this.#pending = [];
    const objects = this.#options.catalog
      .list()
      .filter((object) => object.piecesHeld > 0)
      .map((object) => {
        this.#pieceCounts.set(object.infoHash, object.pieceCount);
        return {
          infoHash: object.infoHash,
          pieceCount: object.pieceCount,
          bitfield: object.bitfield.toBuffer().toString('base64'),
        };
      });
    const answer = parseMessage(
      holdingsResponse,
      await this.#call('PUT', EDGE_API.state, { session: this.#session, seq: 0, objects }),
      'state answer',
    );
    if (answer.resync) throw new ControllerUnreachableError('the controller did not take the state (no heartbeat yet)');
    this.#seq = 0;
    this.#status.statesSent += 1;
    await this.#sendMetainfo(answer.needMetainfo);
  }

  #change(infoHash: string, change: { added?: number[]; removed?: number[]; gone?: boolean }): void {
    const pieceCount = this.#options.catalog.get(infoHash)?.pieceCount ?? this.#pieceCounts.get(infoHash);
    if (pieceCount === undefined) return;
    if (change.gone) this.#pieceCounts.delete(infoHash);
    else this.#pieceCounts.set(infoHash, pieceCount);
    this.#pending.push({ infoHash, pieceCount, ...change });
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = null;
      void this.#serially(() => this.#flush());
    }, this.#options.deltaDelayMs ?? 50);
  }

  async #flush(): Promise<void> {
    // Without a counted state the next one carries these changes.
    if (this.#seq === null || !this.#status.connected) this.#pending = [];
    if (this.#seq === null || this.#pending.length === 0) return;
    const changes = this.#pending;
    this.#pending = [];
    const seq = this.#seq + 1;
    try {
      const answer = parseMessage(
        holdingsResponse,
        await this.#call('POST', EDGE_API.deltas, { session: this.#session, seq, changes }),
        'deltas answer',
      );
      if (answer.resync) {
        await this.#sendState();
        return;
      }
      this.#seq = seq;
      this.#status.deltasSent += 1;
      await this.#sendMetainfo(answer.needMetainfo);
    } catch (err) {
      // Lost in transit: the next heartbeat finds the seq behind and sends the whole state.
      this.#seq = null;
      this.#options.logger.debug({ err: (err as Error).message }, 'a delta did not reach the controller');
    }
  }

  async #sendMetainfo(infoHashes: string[]): Promise<void> {
    for (const infoHash of infoHashes) {
      const metainfo = this.#options.catalog.metainfoOf(infoHash);
      if (metainfo === undefined) continue;
      await this.#call('PUT', EDGE_API.metainfo + infoHash, encodeTorrent(metainfo));
    }
  }

  async #commandLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stopped.signal.aborted) {
      try {
        const answer = parseMessage(
          commandsResponse,
          await this.#call('GET', `${EDGE_API.commands}?waitMs=25000`, undefined, this.#stopped.signal),
          'commands',
        );
        failures = 0;
        for (const command of answer.commands) void this.#run(command);
      } catch {
        if (this.#stopped.signal.aborted) return;
        failures += 1;
        await this.#sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures, 10)));
      }
    }
  }

  async #run(command: EdgeCommand): Promise<void> {
    // A command written to a channel that closed before this edge reported on it comes again on the next.
    if (this.#commandsTaken.has(command.id)) return;
    if (this.#commandsTaken.size >= COMMANDS_REMEMBERED) this.#commandsTaken.clear();
    this.#commandsTaken.add(command.id);
    this.#status.commandsRun += 1;
    const path = `${EDGE_API.commands}/${command.id}/events`;
    let queued: CommandEvent[] = [];
    let posting: Promise<void> = Promise.resolve();
    const post = () => {
      const events = queued;
      queued = [];
      posting = posting
        .then(() => this.#call('POST', path, { events }))
        .then(
          () => {},
          (err: Error) =>
            this.#options.logger.warn({ command: command.id, err: err.message }, 'a command report was lost'),
        );
    };
    let lastProgress = 0;
    const report = (event: CommandEvent) => {
      if (event.kind === 'progress') {
        // Progress at most 4 times a second: for the person watching the controller's bar.
        const now = Date.now();
        if (now - lastProgress < 250) return;
        lastProgress = now;
      }
      queued.push(event);
      if (event.kind !== 'progress') post();
    };
    try {
      await this.#options.runCommand(command, report);
      queued.push({ kind: 'done' });
    } catch (err) {
      const error = isEdgepeerError(err)
        ? { code: err.code, message: err.message }
        : { code: 'EDGEPEER_INTERNAL', message: (err as Error).message };
      queued.push({ kind: 'done', error });
    }
    post();
    await posting;
  }

  /** One message about holdings at a time, in order. */
  #serially(step: () => Promise<void>): Promise<void> {
    const next = this.#sending.then(step);
    this.#sending = next.catch(() => {});
    return next;
  }

  async #call(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (this.#credential !== null)
      headers.authorization = edgeAuthorization(this.#credential.edgeId, this.#credential.key);
    let payload: string | Uint8Array | undefined;
    if (body instanceof Uint8Array) {
      payload = body;
      headers['content-type'] = 'application/x-bittorrent';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let response: Dispatcher.ResponseData;
    const url = new URL(path, this.#url);
    try {
      response = await this.#dispatcher.request({
        origin: url.origin,
        method: method as 'GET',
        path: url.pathname + url.search,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      throw new ControllerUnreachableError(`controller ${this.#url}: ${(err as Error).message}`);
    }
    const text = await response.body.text();
    if (response.statusCode === 204) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ControllerUnreachableError(
        `controller answered ${response.statusCode} with no JSON to ${method} ${path}`,
      );
    }
    if (response.statusCode === 200) return parsed;
    const error = (parsed as { error?: { code?: string; message?: string } }).error;
    const message = `controller: ${error?.message ?? `status ${response.statusCode}`}`;
    if (error?.code === 'EDGEPEER_ENROLMENT_REFUSED') throw new EnrolmentRefusedError(message);
    if (response.statusCode === 401) throw new UnauthorizedError(message);
    throw new ControllerUnreachableError(message);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const signal = this.#stopped.signal;
      function done() {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done);
    });
  }

  async #readCredential(): Promise<EdgeCredential | null> {
    let text: string;
    try {
      text = await readFile(this.#options.credentialFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const credential = JSON.parse(text) as EdgeCredential;
    // Kept for another fleet: this one needs a token of its own.
    return this.#options.controllerUrls.includes(credential.controller) ? credential : null;
  }

  async #writeCredential(credential: EdgeCredential): Promise<void> {
    const file = this.#options.credentialFile;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, `${JSON.stringify(credential)}\n`, { mode: 0o600, flush: true });
    await rename(`${file}.tmp`, file);
  }
}
