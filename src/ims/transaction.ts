import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { SipError } from '../errors/index.ts';
import { type Logger, silentLogger, WarningThrottle } from '../log/index.ts';
import {
  headerLines,
  type OutgoingRequest,
  parseCSeq,
  type SipMessage,
  type SipRequest,
  type SipResponse,
  serializeRequest,
  serializeResponse,
} from './message.ts';
import { parseVia, splitList } from './syntax.ts';
import type { LocalEndpoint, SipChannel } from './transport.ts';
import { formatHost } from './uri.ts';

// Non-INVITE client transactions (RFC 3261 17.1.2): send, retransmit on UDP (timer E: T1 doubling up to T2,
// T2 once a provisional response came), give up at timer F (64*T1), finish on the first final response.
// Responses are matched to transactions by the branch of their top Via and the CSeq method (17.1.3).

export interface TimerSettings {
  /** RTT estimate, default 500 ms. */
  t1Ms: number;
  /** Longest retransmit interval, default 4 s. */
  t2Ms: number;
  /** Transaction timeout, default 64*T1. */
  timerFMs: number;
}

export function timerSettings(partial: Partial<TimerSettings> = {}): TimerSettings {
  const t1Ms = partial.t1Ms ?? 500;
  return { t1Ms, t2Ms: partial.t2Ms ?? 4000, timerFMs: partial.timerFMs ?? 64 * t1Ms };
}

/** RFC 3261 18.1.1: requests over 1300 bytes (path MTU unknown) go over a congestion-controlled transport. */
export const UDP_MAX_REQUEST_BYTES = 1300;

export interface TransactionLayerOptions {
  primary: SipChannel;
  /** Makes a TCP channel to the same registrar for requests too large for UDP; called on first need. */
  largeRequestChannel?: () => SipChannel;
  timers?: Partial<TimerSettings>;
  udpMaxRequestBytes?: number;
  /** Never given a password: Authorization values are redacted before logging. */
  logger?: Logger;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

interface Pending {
  branch: string;
  method: string;
  channel: SipChannel;
  onResponse(response: SipResponse): void;
  fail(error: Error): void;
}

export interface TransactionLayerEvents {
  /**
   * A channel failed: connection lost, or ICMP unreachable. Pending transactions on it have been failed.
   * `primary` tells the channel our Contact names from the one opened only for large requests.
   */
  failure: [error: SipError, channel: SipChannel, primary: boolean];
}

export class TransactionLayer extends EventEmitter<TransactionLayerEvents> {
  readonly timers: TimerSettings;
  private readonly primary: SipChannel;
  private readonly makeLargeRequestChannel: (() => SipChannel) | undefined;
  private largeChannel: SipChannel | undefined;
  private readonly udpMaxRequestBytes: number;
  private readonly logger: Logger;
  /** Anyone who can reach our UDP port can send a datagram per warning. */
  private readonly remoteWarnings: WarningThrottle;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /** Messages whose handling failed unexpectedly (logged at error, dropped). */
  internalErrors = 0;

  constructor(options: TransactionLayerOptions) {
    super();
    this.primary = options.primary;
    this.makeLargeRequestChannel = options.largeRequestChannel;
    this.timers = timerSettings(options.timers);
    this.udpMaxRequestBytes = options.udpMaxRequestBytes ?? UDP_MAX_REQUEST_BYTES;
    this.logger = options.logger ?? silentLogger;
    this.remoteWarnings = new WarningThrottle(this.logger);
    this.attach(this.primary);
  }

  /** Our address on the primary channel (opens it): what the Contact names. */
  localEndpoint(): Promise<LocalEndpoint> {
    return this.primary.open();
  }

  get transport(): SipChannel['transport'] {
    return this.primary.transport;
  }

  /** Sends a request in a new client transaction; resolves with its final response. */
  async request(request: OutgoingRequest, options: RequestOptions = {}): Promise<SipResponse> {
    if (this.closed) throw new SipError('EDGEPEER_SIP_UNREACHABLE', 'the SIP client is closed');
    options.signal?.throwIfAborted();
    const channel = this.channelFor(request);
    const local = await channel.open();
    options.signal?.throwIfAborted();
    const branch = `z9hG4bK${randomBytes(10).toString('hex')}`;
    const via = `SIP/2.0/${channel.transport.toUpperCase()} ${formatHost(local.address)}:${local.port};branch=${branch}${
      channel.reliable ? '' : ';rport'
    }`;
    const data = serializeRequest(request, via);
    this.logger.debug({ transport: channel.transport, text: redact(data.toString('utf8')) }, 'sip request');
    return this.run(channel, branch, request.method, data, options.signal);
  }

  private channelFor(request: OutgoingRequest): SipChannel {
    if (this.primary.reliable || !this.makeLargeRequestChannel) return this.primary;
    // The Via is added later: leave room for it.
    const size = serializeRequest(
      request,
      'SIP/2.0/UDP [0000:0000:0000:0000:0000:0000:0000:0000]:65535;branch=z9hG4bK00000000000000000000;rport',
    ).length;
    if (size <= this.udpMaxRequestBytes) return this.primary;
    if (!this.largeChannel) {
      this.largeChannel = this.makeLargeRequestChannel();
      this.attach(this.largeChannel);
    }
    return this.largeChannel;
  }

  private run(
    channel: SipChannel,
    branch: string,
    method: string,
    data: Buffer,
    signal: AbortSignal | undefined,
  ): Promise<SipResponse> {
    const { t1Ms, t2Ms, timerFMs } = this.timers;
    return new Promise<SipResponse>((resolve, reject) => {
      let interval = t1Ms;
      let proceeding = false;
      let retransmit: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(retransmit);
        clearTimeout(timerF);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(branch);
      };
      const fail = (error: Error) => {
        finish();
        reject(error);
      };
      const onAbort = () => fail(signal!.reason as Error);
      const send = () =>
        channel.send(data).catch((err: Error) => {
          if (this.pending.has(branch)) fail(err);
        });
      const scheduleRetransmit = () => {
        retransmit = setTimeout(() => {
          this.logger.debug({ method, branch, intervalMs: interval }, 'sip retransmit');
          void send();
          interval = proceeding ? t2Ms : Math.min(interval * 2, t2Ms);
          scheduleRetransmit();
        }, interval);
      };
      const timerF = setTimeout(
        () =>
          fail(
            new SipError(
              'EDGEPEER_SIP_TIMEOUT',
              `no final response to ${method} within ${timerFMs} ms (timer F) over ${channel.transport}`,
              { subject: method },
            ),
          ),
        timerFMs,
      );
      this.pending.set(branch, {
        branch,
        method,
        channel,
        onResponse: (response) => {
          if (response.status < 200) {
            // Proceeding: retransmit at T2 from now on (RFC 3261 17.1.2.2).
            proceeding = true;
            interval = t2Ms;
            return;
          }
          finish();
          resolve(response);
        },
        fail,
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      void send();
      if (!channel.reliable) scheduleRetransmit();
    });
  }

  private attach(channel: SipChannel): void {
    channel.on('message', (message) => {
      // Called from a socket handler: a failure here would otherwise take the whole agent down.
      try {
        this.onMessage(channel, message);
      } catch (err) {
        this.internalErrors += 1;
        this.logger.error({ err }, 'sip: handling a message failed; it was dropped');
      }
    });
    channel.on('malformed', (error) =>
      this.remoteWarnings.warn('sip message dropped', { reason: error.message }, 'sip message dropped'),
    );
    channel.on('failure', (error) => {
      for (const pending of [...this.pending.values()]) {
        if (pending.channel === channel) pending.fail(error);
      }
      this.emit('failure', error, channel, channel === this.primary);
    });
  }

  private onMessage(channel: SipChannel, message: SipMessage): void {
    if (message.kind === 'request') {
      this.answer(channel, message);
      return;
    }
    this.logger.debug({ status: message.status, reason: message.reason }, 'sip response');
    let branch: string | undefined;
    let method: string;
    try {
      const topVia = splitList(headerLines(message, 'via')[0] ?? '')[0] ?? '';
      branch = parseVia(topVia).params.get('branch');
      method = parseCSeq(headerLines(message, 'cseq')[0]!).method;
    } catch (err) {
      this.remoteWarnings.warn('sip response dropped', { reason: (err as Error).message }, 'sip response dropped');
      return;
    }
    const pending = branch === undefined ? undefined : this.pending.get(branch);
    if (!pending || pending.method !== method) {
      // A retransmitted final response after the transaction ended, or not ours (RFC 3261 18.1.2).
      this.logger.debug({ branch, method }, 'sip response matches no transaction: dropped');
      return;
    }
    pending.onResponse(message);
  }

  /** We are a registration client, not a full UA: answer keep-alive OPTIONS, decline anything else. */
  private answer(channel: SipChannel, request: SipRequest): void {
    if (request.method === 'ACK') return;
    const toTag = randomBytes(6).toString('hex');
    const data =
      request.method === 'OPTIONS'
        ? serializeResponse(request, 200, 'OK', [['Allow', 'OPTIONS']], toTag)
        : serializeResponse(request, 501, 'Not Implemented', [['Allow', 'OPTIONS']], toTag);
    channel.send(data).catch((err: Error) => this.logger.debug({ reason: err.message }, 'sip answer not sent'));
  }

  async close(): Promise<void> {
    this.closed = true;
    const closing = new SipError('EDGEPEER_SIP_UNREACHABLE', 'the SIP client was closed');
    for (const pending of [...this.pending.values()]) pending.fail(closing);
    await Promise.all([this.primary.close(), this.largeChannel?.close()]);
  }
}

/** Hides digest responses in logged messages (the password itself is never in a message). */
export function redact(text: string): string {
  return text.replace(/(\bresponse=)("[^"]*"|[^,\s]*)/gi, '$1"…"');
}
