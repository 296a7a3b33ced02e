import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { SipError } from '../../src/errors/index.ts';
import { type OutgoingRequest, parseMessage } from '../../src/ims/message.ts';
import { TransactionLayer } from '../../src/ims/transaction.ts';
import { createChannel } from '../../src/ims/transport.ts';
import { silentLogger } from '../../src/log/index.ts';
import { captureLog } from '../helpers/log.ts';
import { type FakeRegistrar, respond, startFakeRegistrar } from './fake-registrar.ts';

// Timers are shortened (T1 = 20 ms) so the RFC 3261 schedule plays out in well under a second.
const TIMERS = { t1Ms: 20, t2Ms: 80, timerFMs: 400 };

function options(): OutgoingRequest {
  return {
    method: 'OPTIONS',
    uri: 'sip:ims.test',
    headers: [
      ['From', '<sip:a@ims.test>;tag=1'],
      ['To', '<sip:a@ims.test>'],
      ['Call-ID', 'c@t'],
      ['CSeq', '1 OPTIONS'],
    ],
  };
}

let fake: FakeRegistrar | undefined;
let layer: TransactionLayer | undefined;
afterEach(async () => {
  await layer?.close();
  await fake?.close();
  layer = undefined;
  fake = undefined;
});

function udpLayer(port: number, extra: Partial<ConstructorParameters<typeof TransactionLayer>[0]> = {}) {
  const remote = { host: '127.0.0.1', port };
  layer = new TransactionLayer({
    primary: createChannel('udp', { remote }),
    largeRequestChannel: () => createChannel('tcp', { remote }),
    timers: TIMERS,
    ...extra,
  });
  return layer;
}

describe('containment', () => {
  it('drops a message whose handling throws, logs it and counts it, and goes on', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply) => reply(respond(request, '200 OK')));
    const errors: string[] = [];
    // A throw from inside the response path, as a bug would: the debug log line of every response.
    const logger = {
      debug(_fields: object, message: string) {
        if (message === 'sip response') throw new TypeError('a bug');
      },
      info() {},
      warn() {},
      error(_fields: object, message: string) {
        errors.push(message);
      },
    };
    const layer = udpLayer(fake.port, { logger });
    const outcome = await layer.request(options()).catch((err: unknown) => (err as SipError).code);
    expect(outcome).toBe('EDGEPEER_SIP_TIMEOUT'); // its response was dropped
    expect(layer.internalErrors).toBeGreaterThanOrEqual(1);
    expect(errors[0]).toBe('sip: handling a message failed; it was dropped');
  });
});

describe('non-INVITE client transaction over UDP', () => {
  it('retransmits at T1, doubling to T2, and times out with timer F when nothing answers', async () => {
    fake = await startFakeRegistrar(); // receives, never answers
    const intervals: number[] = [];
    const logger = {
      ...silentLogger,
      debug: (f: object, m: string) =>
        m === 'sip retransmit' && intervals.push(Number((f as { intervalMs?: number }).intervalMs)),
    };
    const started = Date.now();
    const error = await udpLayer(fake.port, { logger })
      .request(options())
      .catch((err: unknown) => err);
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(SipError);
    expect((error as SipError).code).toBe('EDGEPEER_SIP_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(TIMERS.timerFMs - 5);
    expect(elapsed).toBeLessThan(TIMERS.timerFMs + 1000);
    // Timer E: T1, doubling, capped at T2 (sends at 0, 20, 60, 140, 220, 300, 380 ms when the machine is idle).
    expect(intervals.slice(0, 4)).toEqual([20, 40, 80, 80]);
    expect(intervals.length).toBeGreaterThanOrEqual(4);
    expect(intervals.length).toBeLessThanOrEqual(6);
    await expect.poll(() => fake!.received.length).toBe(intervals.length + 1);
    // Retransmissions are the same request: same branch.
    expect(new Set(fake.received.map((r) => r.request.headers.find((h) => h.name === 'via')!.value)).size).toBe(1);
  });

  it('keeps retransmitting at T2 after a provisional response, then resolves on the final one', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply, received) => {
      const count = fake!.received.length;
      if (count === 1) reply(respond(request, '100 Trying'));
      if (count === 4) reply(respond(request, '200 OK'));
      void received;
    });
    fake.absorb = false;
    const response = await udpLayer(fake.port).request(options());
    expect(response.status).toBe(200);
    const times = fake.received.map((r) => r.at);
    for (let i = 2; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(TIMERS.t2Ms - 10);
  });

  it('drops garbage and responses of other transactions, then takes the right one', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply) => {
      reply('garbage\r\n\r\n');
      reply(respond(request, '200 OK').replace(/branch=[^;\r]+/, 'branch=z9hG4bKother'));
      reply(respond(request, '200 OK').replace('CSeq: 1 OPTIONS', 'CSeq: 1 REGISTER'));
      reply(respond(request, '486 Busy Here'));
    });
    const log = captureLog();
    const response = await udpLayer(fake.port, { logger: log.logger }).request(options());
    expect(response.status).toBe(486);
    expect(log.lines.find((l) => l.msg === 'sip message dropped')).toMatchObject({
      level: 40,
      reason: expect.any(String),
    });
  });

  it('fails at once with UNREACHABLE when the port is closed (ICMP)', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((done) => probe.bind(0, '127.0.0.1', () => done()));
    const closedPort = probe.address().port;
    await new Promise<void>((done) => probe.close(() => done()));
    const started = Date.now();
    const error = await udpLayer(closedPort, { timers: { ...TIMERS, timerFMs: 10_000 } })
      .request(options())
      .catch((err: unknown) => err);
    expect((error as SipError).code).toBe('EDGEPEER_SIP_UNREACHABLE');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('sends requests over 1300 bytes over TCP (RFC 3261 18.1.1)', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply) => reply(respond(request, '200 OK')));
    const big = options();
    big.headers.push(['X-Padding', 'x'.repeat(1400)]);
    const t = udpLayer(fake.port);
    expect((await t.request(options())).status).toBe(200);
    expect((await t.request(big)).status).toBe(200);
    expect(fake.received.map((r) => r.transport)).toEqual(['udp', 'tcp']);
    expect(fake.received[1]!.request.headers.find((h) => h.name === 'via')!.value).toMatch(/^SIP\/2\.0\/TCP /);
  });

  it('answers OPTIONS from the registrar with 200 and other requests with 501', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply) => reply(respond(request, '200 OK')));
    const t = udpLayer(fake.port);
    await t.request(options());
    const local = await t.localEndpoint();
    for (const method of ['OPTIONS', 'MESSAGE']) {
      fake.sendUdp(
        `${method} sip:a@127.0.0.1:${local.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${fake.port};branch=z9hG4bK${method}\r\n` +
          `From: <sip:r@ims.test>;tag=9\r\nTo: <sip:a@ims.test>\r\nCall-ID: k\r\nCSeq: 5 ${method}\r\nContent-Length: 0\r\n\r\n`,
      );
    }
    await expect.poll(() => fake!.responses.length, { timeout: 2000 }).toBe(2);
    expect(fake.responses.map((r) => r.status).sort()).toEqual([200, 501]);
    expect(fake.responses[0]!.headers.find((h) => h.name === 'to')!.value).toMatch(/;tag=/);
  });
});

describe('over TCP', () => {
  it('times out with timer F without retransmitting', async () => {
    fake = await startFakeRegistrar();
    const remote = { host: '127.0.0.1', port: fake.port };
    layer = new TransactionLayer({ primary: createChannel('tcp', { remote }), timers: TIMERS });
    const error = await layer.request(options()).catch((err: unknown) => err);
    expect((error as SipError).code).toBe('EDGEPEER_SIP_TIMEOUT');
    expect(fake.received.length).toBe(1);
  });

  it('reports a lost connection to pending transactions and as a failure event', async () => {
    fake = await startFakeRegistrar();
    const remote = { host: '127.0.0.1', port: fake.port };
    layer = new TransactionLayer({ primary: createChannel('tcp', { remote }), timers: { ...TIMERS, timerFMs: 5000 } });
    const failures: string[] = [];
    layer.on('failure', (error) => failures.push(error.code));
    fake.handler = () => void fake!.close();
    const error = await layer.request(options()).catch((err: unknown) => err);
    expect((error as SipError).code).toBe('EDGEPEER_SIP_UNREACHABLE');
    expect(failures).toEqual(['EDGEPEER_SIP_UNREACHABLE']);
    fake = undefined;
  });

  it('refused connections are UNREACHABLE', async () => {
    fake = await startFakeRegistrar();
    const port = fake.port;
    await fake.close();
    fake = undefined;
    layer = new TransactionLayer({
      primary: createChannel('tcp', { remote: { host: '127.0.0.1', port } }),
      timers: TIMERS,
    });
    const error = await layer.request(options()).catch((err: unknown) => err);
    expect((error as SipError).code).toBe('EDGEPEER_SIP_UNREACHABLE');
    expect((error as SipError).message).toMatch(/ECONNREFUSED/);
  });
});

describe('parse of what the fake sees', () => {
  it('the Via carries rport on UDP and the branch magic cookie', async () => {
    fake = await startFakeRegistrar('127.0.0.1', (request, reply) => reply(respond(request, '200 OK')));
    await udpLayer(fake.port).request(options());
    const via = fake.received[0]!.request.headers.find((h) => h.name === 'via')!.value;
    expect(via).toMatch(/^SIP\/2\.0\/UDP 127\.0\.0\.1:\d+;branch=z9hG4bK[0-9a-f]{20};rport$/);
    expect(parseMessage(Buffer.from(respond(fake.received[0]!.request, '200 OK'))).kind).toBe('response');
  });
});

describe('local SIP port', () => {
  it('in use: EDGEPEER_ADDRESS_IN_USE with the same words as every listener', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((done) => taken.bind(0, '0.0.0.0', done));
    const port = taken.address().port;
    const channel = createChannel('udp', { remote: { host: '127.0.0.1', port: 9 }, localPort: port });
    try {
      await expect(channel.open()).rejects.toMatchObject({
        code: 'EDGEPEER_ADDRESS_IN_USE',
        message: `SIP (UDP): cannot listen on 0.0.0.0:${port}: the address is already in use (another process listens there: stop it or choose another port)`,
      });
    } finally {
      await channel.close();
      taken.close();
    }
  });
});
