import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { createRegistration, type Registration } from '../../src/ims/index.ts';
import { headerValue, type SipRequest, SipStreamDecoder } from '../../src/ims/message.ts';
import { parseNameAddr } from '../../src/ims/syntax.ts';
import { respond } from './fake-registrar.ts';

// SIP over TLS (RFC 3261 26.2) against an in-process TLS registrar: Debian's Kamailio package has no TLS module
// installed here. The certificate (CN registrar.ims.test, SAN 127.0.0.1 and ::1) was made once with openssl.

const CERT = readFileSync(new URL('./fixtures/tls-cert.pem', import.meta.url));
const KEY = readFileSync(new URL('./fixtures/tls-key.pem', import.meta.url));

let server: tls.Server | undefined;
const open: Registration[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.stop()));
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = undefined;
});

async function startTlsRegistrar(host: string, received: SipRequest[]): Promise<number> {
  server = tls.createServer({ cert: CERT, key: KEY }, (socket) => {
    const decoder = new SipStreamDecoder();
    socket.on('error', () => {});
    socket.on('data', (chunk) => {
      for (const message of decoder.push(chunk)) {
        if (message instanceof Error || message.kind !== 'request') continue;
        received.push(message);
        const uri = parseNameAddr(headerValue(message, 'contact')!).uri;
        const expires = headerValue(message, 'expires');
        socket.write(respond(message, '200 OK', expires === '0' ? [] : [`Contact: <${uri}>;expires=300`]));
      }
    });
  });
  await new Promise<void>((done) => server!.listen(0, host, () => done()));
  return (server!.address() as { port: number }).port;
}

describe('registration over TLS', () => {
  it.each(['127.0.0.1', '::1'])('registers over sips: to %s, verifying the certificate', async (host) => {
    const received: SipRequest[] = [];
    const port = await startTlsRegistrar(host, received);
    const registration = createRegistration({
      registrar: `sips:${host.includes(':') ? `[${host}]` : host}:${port}`,
      impi: 'edge1@ims.test',
      impu: 'sip:edge1@ims.test',
      password: 'p',
      tls: { ca: CERT },
      timers: { t1Ms: 50 },
    });
    open.push(registration);
    const state = await registration.start();
    expect(state).toMatchObject({ registered: true, transport: 'tls', expires: 300 });
    expect(state.contact).toMatch(/;transport=tls$/);
    expect(headerValue(received[0]!, 'via')).toMatch(/^SIP\/2\.0\/TLS /);
    expect(await registration.stop()).toEqual({ deregistered: true });
  });

  it('refuses a registrar whose certificate it does not trust', async () => {
    const port = await startTlsRegistrar('127.0.0.1', []);
    const registration = createRegistration({
      registrar: `sips:127.0.0.1:${port}`,
      impi: 'edge1@ims.test',
      impu: 'sip:edge1@ims.test',
      password: 'p',
      timers: { t1Ms: 50 },
    });
    open.push(registration);
    const state = await registration.start();
    expect(state.registered).toBe(false);
    expect(state.lastError?.code).toBe('EDGEPEER_SIP_UNREACHABLE');
    expect(state.lastError?.message).toMatch(/SELF_SIGNED|CERT|certificate/i);
  });
});
