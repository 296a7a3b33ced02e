import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { fromListenError, SipError } from '../errors/index.ts';
import { type SipMessage, SipStreamDecoder, tryParse } from './message.ts';

// One channel to the registrar (P-CSCF) per transport: a connected UDP socket, or a TCP/TLS connection that is
// opened on demand and reopened after it drops. Channels only move bytes and frame messages; transactions,
// retransmission and what to do on failure live above them.

export type TransportName = 'udp' | 'tcp' | 'tls';

export interface Endpoint {
  /** Host name or IP address (IPv6 without brackets). */
  host: string;
  port: number;
}

/** Our side of the channel, as the registrar sees it (Via sent-by, Contact). */
export interface LocalEndpoint {
  address: string;
  port: number;
}

export interface ChannelEvents {
  message: [message: SipMessage];
  /** A message that did not parse: dropped. */
  malformed: [error: SipError];
  /** The channel failed (ICMP unreachable, connection refused or lost); pending requests on it have failed. */
  failure: [error: SipError];
}

export interface SipChannel extends EventEmitter<ChannelEvents> {
  readonly transport: TransportName;
  /** Reliable transports need no retransmission (RFC 3261 17.1.2.2). */
  readonly reliable: boolean;
  /** Opens (or reuses) the socket; resolves with our local address. */
  open(): Promise<LocalEndpoint>;
  send(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface ChannelOptions {
  remote: Endpoint;
  /** Local port to bind (UDP) so the Contact can name a fixed, reachable port; 0 or absent = any. */
  localPort?: number;
  /** Bound on connecting a TCP/TLS channel. */
  connectTimeoutMs?: number;
  tls?: TlsOptions;
}

export interface TlsOptions {
  /** Trusted CA certificates (PEM); default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Server name to verify; default: the registrar host when it is a name. */
  servername?: string;
  /** Default true. Turning it off is for tests only. */
  rejectUnauthorized?: boolean;
}

export function createChannel(transport: TransportName, options: ChannelOptions): SipChannel {
  return transport === 'udp' ? new UdpChannel(options) : new StreamChannel(transport, options);
}

async function resolve(remote: Endpoint): Promise<{ address: string; family: 4 | 6 }> {
  const family = net.isIP(remote.host);
  if (family === 4 || family === 6) return { address: remote.host, family };
  try {
    const found = await lookup(remote.host);
    return { address: found.address, family: found.family === 6 ? 6 : 4 };
  } catch (err) {
    throw new SipError('EDGEPEER_SIP_UNREACHABLE', `cannot resolve registrar host ${remote.host}`, {
      subject: remote.host,
      cause: err,
    });
  }
}

function describe(remote: Endpoint, transport: TransportName): string {
  return `${transport}:${net.isIP(remote.host) === 6 ? `[${remote.host}]` : remote.host}:${remote.port}`;
}

function networkError(err: unknown, remote: Endpoint, transport: TransportName, what: string): SipError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const reason = code ?? (err instanceof Error ? err.message : String(err));
  return new SipError('EDGEPEER_SIP_UNREACHABLE', `registrar ${describe(remote, transport)} ${what} (${reason})`, {
    subject: describe(remote, transport),
    cause: err,
  });
}

class UdpChannel extends EventEmitter<ChannelEvents> implements SipChannel {
  readonly transport = 'udp' as const;
  readonly reliable = false;
  private readonly options: ChannelOptions;
  private socket: dgram.Socket | undefined;
  private opening: Promise<LocalEndpoint> | undefined;

  constructor(options: ChannelOptions) {
    super();
    this.options = options;
  }

  open(): Promise<LocalEndpoint> {
    this.opening ??= this.connect().catch((err) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private async connect(): Promise<LocalEndpoint> {
    const { address, family } = await resolve(this.options.remote);
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    socket.on('message', (data) => {
      const parsed = tryParse(data, true);
      if (parsed instanceof SipError) this.emit('malformed', parsed);
      else this.emit('message', parsed);
    });
    // On a connected socket the kernel reports ICMP port unreachable as ECONNREFUSED (RFC 3261 18.4).
    socket.on('error', (err) => this.emit('failure', networkError(err, this.options.remote, 'udp', 'is unreachable')));
    await new Promise<void>((done, fail) => {
      socket.once('error', fail);
      socket.bind(this.options.localPort ?? 0, () => {
        socket.off('error', fail);
        done();
      });
    }).catch((err) => {
      socket.close();
      throw fromListenError(err, 'SIP (UDP)', family === 6 ? '::' : '0.0.0.0', this.options.localPort ?? 0);
    });
    await new Promise<void>((done, fail) => {
      socket.connect(this.options.remote.port, address, (err?: Error) => (err ? fail(err) : done()));
    }).catch((err) => {
      socket.close();
      throw networkError(err, this.options.remote, 'udp', 'cannot be reached');
    });
    this.socket = socket;
    const local = socket.address();
    return { address: local.address, port: local.port };
  }

  async send(data: Buffer): Promise<void> {
    await this.open();
    const socket = this.socket!;
    await new Promise<void>((done, fail) => socket.send(data, (err) => (err ? fail(err) : done()))).catch((err) => {
      throw networkError(err, this.options.remote, 'udp', 'cannot be sent to');
    });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.opening = undefined;
    if (socket) await new Promise<void>((done) => socket.close(() => done()));
  }
}

class StreamChannel extends EventEmitter<ChannelEvents> implements SipChannel {
  readonly transport: 'tcp' | 'tls';
  readonly reliable = true;
  private readonly options: ChannelOptions;
  private socket: net.Socket | undefined;
  private opening: Promise<LocalEndpoint> | undefined;

  constructor(transport: 'tcp' | 'tls', options: ChannelOptions) {
    super();
    this.transport = transport;
    this.options = options;
  }

  open(): Promise<LocalEndpoint> {
    this.opening ??= this.connect().catch((err) => {
      this.opening = undefined;
      throw err;
    });
    return this.opening;
  }

  private async connect(): Promise<LocalEndpoint> {
    const { remote } = this.options;
    const { address } = await resolve(remote);
    const socket =
      this.transport === 'tls' ? this.connectTls(address) : net.connect({ host: address, port: remote.port });
    const ready = this.transport === 'tls' ? 'secureConnect' : 'connect';
    const timeoutMs = this.options.connectTimeoutMs ?? 32_000;
    await new Promise<void>((done, fail) => {
      const timer = setTimeout(
        () => fail(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
        timeoutMs,
      );
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.off('error', fail);
        done();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        fail(err);
      });
    }).catch((err) => {
      socket.destroy();
      throw networkError(err, remote, this.transport, 'cannot be connected to');
    });

    const decoder = new SipStreamDecoder();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => {
      let results: ReturnType<SipStreamDecoder['push']>;
      try {
        results = decoder.push(chunk);
      } catch (err) {
        // The stream cannot be framed any more: drop the connection (RFC 3261 18.3).
        this.emit('malformed', err instanceof SipError ? err : new SipError('EDGEPEER_SIP_MALFORMED', String(err)));
        socket.destroy();
        return;
      }
      for (const result of results) {
        if (result instanceof SipError) this.emit('malformed', result);
        else this.emit('message', result);
      }
    });
    socket.on('error', () => {
      // 'close' follows and reports it.
    });
    socket.on('close', () => {
      if (this.socket !== socket) return; // closed on purpose
      this.socket = undefined;
      this.opening = undefined;
      this.emit('failure', networkError(undefined, remote, this.transport, 'closed the connection'));
    });
    this.socket = socket;
    return { address: socket.localAddress ?? '0.0.0.0', port: socket.localPort ?? 0 };
  }

  private connectTls(address: string): net.Socket {
    const { remote, tls: options = {} } = this.options;
    const servername = options.servername ?? (net.isIP(remote.host) ? undefined : remote.host);
    return tls.connect({
      host: address,
      port: remote.port,
      ...(servername === undefined ? {} : { servername }),
      ...(options.ca === undefined ? {} : { ca: options.ca }),
      rejectUnauthorized: options.rejectUnauthorized ?? true,
    });
  }

  async send(data: Buffer): Promise<void> {
    await this.open();
    const socket = this.socket;
    if (!socket) throw networkError(undefined, this.options.remote, this.transport, 'closed the connection');
    await new Promise<void>((done, fail) => socket.write(data, (err) => (err ? fail(err) : done()))).catch((err) => {
      throw networkError(err, this.options.remote, this.transport, 'cannot be sent to');
    });
  }

  async close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.opening = undefined;
    if (!socket || socket.closed) return;
    await new Promise<void>((done) => {
      socket.once('close', () => done());
      socket.end();
      // A peer that never acknowledges the FIN must not hold shutdown up.
      setTimeout(() => socket.destroy(), 1000).unref();
    });
  }
}
