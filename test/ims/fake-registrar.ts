import dgram from 'node:dgram';
import net from 'node:net';
import {
  headerLines,
  parseMessage,
  type SipRequest,
  type SipResponse,
  SipStreamDecoder,
} from '../../src/ims/message.ts';

// An in-process SIP peer on one UDP and one TCP port (the same number) for faults a real registrar does not
// produce on demand: silence, garbage, loops of challenges. Interop tests use Kamailio instead.

export interface Received {
  request: SipRequest;
  transport: 'udp' | 'tcp';
  at: number;
}

export type Handler = (request: SipRequest, reply: (response: string | Buffer) => void, received: Received) => void;

export interface FakeRegistrar {
  port: number;
  host: string;
  /** Every request that arrived, retransmissions included. */
  received: Received[];
  /** Requests once each: retransmissions (same Via branch) are absorbed like a server transaction would. */
  requests: SipRequest[];
  /** Absorb retransmissions (default); off, the handler sees each one (for tests of retransmission itself). */
  absorb: boolean;
  /** Responses the client sent us (to our requests). */
  responses: SipResponse[];
  handler: Handler;
  /** Sends raw bytes to the last UDP source seen. */
  sendUdp(data: string | Buffer): void;
  close(): Promise<void>;
}

/**
 * A UDP socket and a TCP server on one port number. The kernel picks the UDP port; that number may already
 * be taken for TCP (another test's connection), so try again with a fresh one.
 */
async function bindUdpAndTcp(host: string): Promise<{ udp: dgram.Socket; tcp: net.Server; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const udp = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((done) => udp.bind(0, host, () => done()));
    const port = udp.address().port;
    const tcp = net.createServer();
    try {
      await new Promise<void>((done, fail) => {
        tcp.once('error', fail);
        tcp.listen(port, host, () => done());
      });
      return { udp, tcp, port };
    } catch (err) {
      udp.close();
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw err;
    }
  }
}

export async function startFakeRegistrar(host = '127.0.0.1', handler: Handler = () => {}): Promise<FakeRegistrar> {
  const { udp, tcp, port } = await bindUdpAndTcp(host);
  const sockets = new Set<net.Socket>();
  let lastSource: { address: string; port: number } | undefined;
  // Server transactions, simplified: the last response sent per branch, resent to a retransmission.
  const answered = new Map<string, Buffer | undefined>();
  const dispatch = (request: SipRequest, received: Received, send: (data: Buffer) => void) => {
    fake.received.push(received);
    const branch = /branch=([^;,\s]+)/.exec(headerLines(request, 'via')[0] ?? '')?.[1] ?? '';
    if (fake.absorb && answered.has(branch)) {
      const last = answered.get(branch);
      if (last) send(last);
      return;
    }
    answered.set(branch, undefined);
    fake.requests.push(request);
    fake.handler(
      request,
      (response) => {
        const data = Buffer.from(response);
        answered.set(branch, data);
        send(data);
      },
      received,
    );
  };

  const fake: FakeRegistrar = {
    port,
    host,
    received: [],
    requests: [],
    absorb: true,
    responses: [],
    handler,
    sendUdp(data) {
      if (lastSource) udp.send(Buffer.from(data), lastSource.port, lastSource.address);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([
        new Promise<void>((done) => udp.close(() => done())),
        new Promise<void>((done) => tcp.close(() => done())),
      ]);
    },
  };

  udp.on('message', (data, rinfo) => {
    lastSource = rinfo;
    const message = parseMessage(data);
    if (message.kind !== 'request') {
      fake.responses.push(message);
      return;
    }
    const received: Received = { request: message, transport: 'udp', at: Date.now() };
    dispatch(message, received, (data) => udp.send(data, rinfo.port, rinfo.address));
  });
  tcp.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new SipStreamDecoder();
    socket.on('data', (chunk) => {
      for (const message of decoder.push(chunk)) {
        if (message instanceof Error || message.kind !== 'request') continue;
        const received: Received = { request: message, transport: 'tcp', at: Date.now() };
        dispatch(message, received, (data) => socket.write(data));
      }
    });
  });
  return fake;
}

/** A response to `request` copying Via, From, To, Call-ID and CSeq; `extra` lines are added before the end. */
export function respond(request: SipRequest, status: string, extra: string[] = [], body = ''): string {
  const copy = (name: string, display: string) => headerLines(request, name).map((v) => `${display}: ${v}`);
  const lines = [
    `SIP/2.0 ${status}`,
    ...copy('via', 'Via'),
    ...copy('from', 'From'),
    ...headerLines(request, 'to').map((v) => `To: ${v};tag=fake`),
    ...copy('call-id', 'Call-ID'),
    ...copy('cseq', 'CSeq'),
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ];
  return lines.join('\r\n');
}
