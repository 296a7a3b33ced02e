// Accepted TCP connections on their libuv handles, without a net.Socket until one is needed.
//
// Why: a BitTorrent client opens one connection per announce (one GET with `Connection: close`, a few
// hundred bytes back). On the 2-vCPU AMD machine a bare net.Server that reads a request, answers and
// closes takes 40-60 µs of CPU per connection, about opentracker's whole announce: net.Socket, its stream
// state, events and next-ticks, before any HTTP. The same on the handle alone (read, one write, close)
// takes 34-48 µs, within 5 µs of opentracker's whole (docs/benchmarks.md, "Issue 23: the tracker, one
// connection per announce"). So the server that listens (net.Server: bind, listen, address, close and
// its IPv4 fallback stay Node's) has its accept callback replaced; a connection is read on its handle,
// and answered and closed there when its first read holds a whole request the owner can answer alone,
// or else wrapped in a net.Socket (as net.Server itself wraps accepted handles) and given on.
//
// Node internals: `process.binding('tcp_wrap')` / `('stream_wrap')` (DEP0111, a documentation-only
// deprecation) and net.Server's `_handle`, used as lib/net.js and lib/internal/stream_base_commons.js
// use them on Node 24. rawAcceptSupported() checks their shape; where it differs (another Node) nothing
// is replaced and net.Server accepts as usual (the same behaviour, slower), and a test on the pinned Node
// fails to say so.
import { type Server, Socket } from 'node:net';

/** The libuv TCP handle's methods used here (node/src/stream_base.cc, tcp_wrap.cc). */
interface TcpHandle {
  /** Must be a function (the setter asserts it). */
  onread: (this: TcpHandle, arrayBuffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(request: WriteRequest, data: Uint8Array): number;
  getpeername(out: { address?: string; port?: number; family?: string }): number;
  close(callback?: () => void): void;
}

interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
  async: boolean;
}

interface ServerHandle {
  onconnection: ((this: ServerHandle, status: number, handle?: TcpHandle) => void) | null;
}

interface StreamBindings {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

let bindings: StreamBindings | null | undefined;

function streamBindings(): StreamBindings | null {
  if (bindings !== undefined) return bindings;
  bindings = null;
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding;
    const stream = binding('stream_wrap') as Partial<StreamBindings>;
    const tcp = binding('tcp_wrap') as { TCP?: { prototype?: Record<string, unknown> } };
    const proto = tcp.TCP?.prototype;
    if (
      typeof stream.WriteWrap === 'function' &&
      stream.streamBaseState instanceof Int32Array &&
      typeof stream.kReadBytesOrError === 'number' &&
      typeof stream.kArrayBufferOffset === 'number' &&
      typeof stream.kLastWriteWasAsync === 'number' &&
      proto !== undefined &&
      ['readStart', 'readStop', 'writeBuffer', 'getpeername', 'close'].every(
        (name) => typeof proto[name] === 'function',
      )
    ) {
      bindings = stream as StreamBindings;
    }
  } catch {
    // process.binding gone or refusing these modules: net.Server accepts.
  }
  return bindings;
}

/** Whether this Node has the internals raw accepting needs (else takeOverAccepts leaves net.Server as is). */
export function rawAcceptSupported(): boolean {
  return streamBindings() !== null;
}

function ignoreRead(): void {}

/** libuv's UV_EOF: the client sent FIN. */
const UV_EOF = -4095;

export interface RawAcceptHandlers {
  /** A new connection from `address` (IPv4 unmapped): false refuses it (closed at once). */
  admit(address: string): boolean;
  /**
   * The connection's first bytes (valid until this returns): true if `connection` is answered here
   * (connection.reply, later or now), false to give it on as a socket with these bytes (adopt).
   */
  first(bytes: Buffer, connection: RawConnection): boolean;
  /** The connection as a net.Socket, with the bytes read and not answered; `address` as admitted. */
  adopt(socket: Socket, unread: Buffer, address: string): void;
  /** The connection closed here (refused ones excluded: they were never admitted). */
  closed(address: string): void;
}

/** One accepted connection while it is read or answered on its handle. */
export class RawConnection {
  readonly address: string;
  readonly acceptedAt = Date.now();
  /** When its request went to the owner (0 before). */
  answeringSince = 0;
  /**
   * 'waiting': nothing read yet; 'answering': its request is with the owner; 'sent': the answer is being
   * written; 'done': closed or given on.
   */
  state: 'waiting' | 'answering' | 'sent' | 'done' = 'waiting';
  readonly #handle: TcpHandle;
  readonly #owner: RawAcceptor;

  constructor(handle: TcpHandle, address: string, owner: RawAcceptor) {
    this.#handle = handle;
    this.address = address;
    this.#owner = owner;
  }

  /**
   * Sends `bytes` (a whole response, which says `Connection: close`) and closes: at once if the kernel
   * took them all (the FIN follows them), else once the write completes. Nothing after a close.
   */
  reply(bytes: Uint8Array): void {
    if (this.state !== 'answering') return;
    const handle = this.#handle;
    const { WriteWrap, streamBaseState, kLastWriteWasAsync } = streamBindings()!;
    const request = new WriteWrap();
    request.handle = handle;
    request.oncomplete = () => this.close();
    request.async = false;
    const err = handle.writeBuffer(request, bytes);
    if (err !== 0 || streamBaseState[kLastWriteWasAsync] === 0) this.close();
    else this.state = 'sent'; // the kernel's buffer was full: closed by oncomplete
  }

  /** Closes the connection at once (idempotent). */
  close(): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.#handle.onread = ignoreRead;
    this.#handle.close();
    this.#owner.forget(this);
  }

  /** Wraps the handle in a net.Socket and gives it on with `unread`. */
  giveOn(unread: Buffer): void {
    if (this.state === 'done') return;
    this.state = 'done';
    this.#handle.readStop();
    this.#handle.onread = ignoreRead;
    this.#owner.forget(this, false);
    // `handle` is the option net.Server uses to build accepted sockets; not in the public type.
    const options = { handle: this.#handle, allowHalfOpen: true, readable: true, writable: true };
    const socket = new Socket(options as unknown as ConstructorParameters<typeof Socket>[0]);
    this.#owner.handlers.adopt(socket, unread, this.address);
  }

  onRead(arrayBuffer: ArrayBuffer | undefined): void {
    const { streamBaseState, kReadBytesOrError, kArrayBufferOffset } = streamBindings()!;
    const length = streamBaseState[kReadBytesOrError]!;
    if (length === 0) return;
    if (length < 0) {
      // FIN while answering: the answer still goes out (half-close). An error, or FIN before a request: close.
      if (length === UV_EOF && (this.state === 'answering' || this.state === 'sent')) this.#handle.readStop();
      else this.close();
      return;
    }
    if (this.state !== 'waiting' || arrayBuffer === undefined) return; // bytes after a `Connection: close` request
    const bytes = Buffer.from(arrayBuffer, streamBaseState[kArrayBufferOffset]!, length);
    this.state = 'answering';
    this.answeringSince = Date.now();
    this.#owner.unwaited(this);
    if (!this.#owner.handlers.first(bytes, this)) {
      this.state = 'waiting';
      this.giveOn(Buffer.from(bytes));
    }
  }
}

/** Raw accepting on one listening server. */
export interface RawAcceptor {
  readonly handlers: RawAcceptHandlers;
  /** Connections open on their handles (not yet given on). */
  readonly open: number;
  forget(connection: RawConnection, closed?: boolean): void;
  unwaited(connection: RawConnection): void;
  /**
   * Gives on connections that sent nothing for `waitMs` (their owner's timeouts apply from then), and
   * closes those whose answer has not gone out `answerMs` after their request came: an answer that never
   * comes (a shared store not answering) or a client that stopped reading must not hold a connection.
   */
  sweep(waitMs: number, answerMs: number): void;
  /** Closes every connection on its handle. */
  closeAll(): void;
}

/**
 * Replaces the accept callback of `server`, which must be listening (call it on 'listening'), with raw
 * accepting; null (the server accepts as before) if this Node's internals differ or it is not listening.
 */
export function takeOverAccepts(server: Server, handlers: RawAcceptHandlers): RawAcceptor | null {
  if (streamBindings() === null) return null;
  const listening = (server as unknown as { _handle?: ServerHandle | null })._handle;
  if (listening === null || listening === undefined || typeof listening.onconnection !== 'function') return null;
  const open = new Set<RawConnection>();
  /** Connections that read nothing yet, for the sweep. */
  const waiting = new Set<RawConnection>();
  /** Connections whose request is with the owner or whose answer is being written, for the sweep. */
  const answering = new Set<RawConnection>();
  const acceptor: RawAcceptor = {
    handlers,
    get open() {
      return open.size;
    },
    forget(connection, closed = true) {
      open.delete(connection);
      waiting.delete(connection);
      answering.delete(connection);
      if (closed) handlers.closed(connection.address);
    },
    unwaited(connection) {
      waiting.delete(connection);
      answering.add(connection);
    },
    sweep(waitMs, answerMs) {
      const now = Date.now();
      for (const connection of waiting) {
        if (connection.acceptedAt <= now - waitMs) connection.giveOn(Buffer.alloc(0));
      }
      for (const connection of answering) {
        if (connection.answeringSince <= now - answerMs) connection.close();
      }
    },
    closeAll() {
      for (const connection of open) connection.close();
    },
  };
  listening.onconnection = (status, handle) => {
    if (status !== 0 || handle === undefined) return;
    const address = peerAddress(handle);
    if (address === '' || !handlers.admit(address)) {
      handle.close();
      return;
    }
    const connection = new RawConnection(handle, address, acceptor);
    open.add(connection);
    waiting.add(connection);
    handle.onread = (arrayBuffer) => connection.onRead(arrayBuffer);
    if (handle.readStart() !== 0) connection.close();
  };
  return acceptor;
}

/** The client's address, IPv4 unmapped (as Http1Response.remoteAddress); '' if the kernel has none. */
function peerAddress(handle: TcpHandle): string {
  const out: { address?: string } = {};
  if (handle.getpeername(out) !== 0 || out.address === undefined) return '';
  const address = out.address;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
