import { existsSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors/index.ts';
import {
  createRegistration,
  type Registration,
  type RegistrationOptions,
  type RegistrationState,
} from '../../src/ims/index.ts';
import { silentLogger } from '../../src/log/index.ts';
import {
  boundContact,
  freePort,
  KAMAILIO,
  KAMAILIO_TLS_CERT,
  type Kamailio,
  startKamailio,
} from '../fixtures/kamailio/kamailio.ts';

// edgepeer's registration client against Kamailio (auth + registrar + usrloc, test/fixtures/kamailio/registrar.cfg)
// standing in for the P-CSCF/S-CSCF: digest with qop=auth, 403 on a wrong password, 423 below MIN_EXPIRES,
// nonces living NONCE_EXPIRE seconds, Service-Route and P-Associated-URI in the 200 OK.

const DOMAIN = 'ims.example.test';
const FAST = { t1Ms: 100, t2Ms: 400 };
let nextPeer = 1;

/** Options for a fresh IMPI/IMPU of registrar.cfg's peerN family, so tests never share a binding. */
function peer(port: number, host = '127.0.0.1', extra: Partial<RegistrationOptions> = {}): RegistrationOptions {
  const name = `peer${nextPeer++}`;
  const bracketed = host.includes(':') ? `[${host}]` : host;
  return {
    registrar: `sip:${bracketed}:${port}`,
    impi: `${name}@${DOMAIN}`,
    impu: `sip:${name}@${DOMAIN}`,
    password: 'peer-secret',
    expires: 3600,
    timers: FAST,
    retry: { baseMs: 100, maxMs: 400 },
    ...extra,
  };
}

function user(options: RegistrationOptions): string {
  return options.impi.split('@')[0]!;
}

const open: Registration[] = [];
function track(registration: Registration): Registration {
  open.push(registration);
  return registration;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.stop()));
});

/** Resolves with the state of the next `event` matching `predicate`, or fails after `timeoutMs`. */
function next(
  registration: Registration,
  event: 'registered' | 'unregistered' | 'state',
  predicate: (state: RegistrationState) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<RegistrationState> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      registration.off(event, listener);
      reject(new Error(`no ${event} event within ${timeoutMs} ms; state ${JSON.stringify(registration.state())}`));
    }, timeoutMs);
    const listener = (state: RegistrationState) => {
      if (!predicate(state)) return;
      clearTimeout(timer);
      registration.off(event, listener);
      resolve(state);
    };
    registration.on(event, listener);
  });
}

describe.skipIf(!existsSync(KAMAILIO))('SIP registration against Kamailio', () => {
  let kamailio: Kamailio;
  beforeAll(async () => {
    kamailio = await startKamailio({ ipv6: true, tls: true, defines: { MIN_EXPIRES: 2, NONCE_EXPIRE: 3 } });
  });
  afterAll(async () => {
    await kamailio?.dispose();
  });

  describe.each([
    ['udp', '127.0.0.1'],
    ['tcp', '127.0.0.1'],
    ['tls', '127.0.0.1'],
    ['udp', '::1'],
    ['tcp', '::1'],
    ['tls', '::1'],
  ] as const)('over %s to %s', (transport, host) => {
    it('registers with digest, keeps Service-Route and P-Associated-URI, deregisters on stop', async () => {
      // TLS: Kamailio's tls module presents test/ims/fixtures/tls-cert.pem, trusted here as the CA.
      const options =
        transport === 'tls'
          ? peer(kamailio.tlsPort!, host, { transport, tls: { ca: readFileSync(KAMAILIO_TLS_CERT) } })
          : peer(kamailio.port, host, { transport });
      const registration = track(createRegistration(options));
      const state = await registration.start();
      expect(state).toMatchObject({
        status: 'registered',
        registered: true,
        expires: 3600,
        transport,
        serviceRoute: ['sip:orig@scscf.ims.example.test:6060;lr'],
        associatedUris: [options.impu, 'tel:+15550100'],
        counters: { registrations: 1, refreshes: 0, failures: 0 },
      });
      expect(state.contact).toMatch(transport === 'udp' ? /:\d+$/ : new RegExp(`;transport=${transport}$`));
      expect(state.contact).toContain(host.includes(':') ? `[${host}]` : host);
      expect(JSON.stringify(state)).not.toContain(options.password);
      // The registrar holds exactly our contact...
      expect(await boundContact(kamailio.port, user(options))).toBe(state.contact);

      // ...until we deregister.
      const outcome = await registration.stop();
      expect(outcome).toEqual({ deregistered: true });
      expect(registration.state()).toMatchObject({ status: 'stopped', registered: false });
      expect(await boundContact(kamailio.port, user(options))).toBeUndefined();
    });
  });

  it('does not register over TLS with a registrar whose certificate it cannot verify', async () => {
    const registration = track(createRegistration(peer(kamailio.tlsPort!, '127.0.0.1', { transport: 'tls' })));
    const state = await registration.start();
    expect(state.registered).toBe(false);
    expect(state.lastError).toMatchObject({ code: 'EDGEPEER_SIP_UNREACHABLE' });
    expect(state.lastError?.message).toMatch(/cannot be connected to \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  });

  it('refuses a wrong password with 403 (final: no retry) and exit code auth', async () => {
    const registration = track(createRegistration({ ...peer(kamailio.port), password: 'not-the-password' }));
    const state = await registration.start();
    expect(state).toMatchObject({
      status: 'failed',
      registered: false,
      lastError: { code: 'EDGEPEER_SIP_AUTH_REFUSED', status: 403 },
    });
    expect(state.nextRetryAt).toBeUndefined();
    expect(registration.lastError()?.exitCode).toBe(ExitCode.auth);
    expect(state.lastError?.message).not.toContain('not-the-password');
  });

  it('treats a second 401 to the same credentials as refusal', async () => {
    // registrar.cfg re-challenges bob instead of answering 403.
    const registration = track(
      createRegistration({
        ...peer(kamailio.port),
        impi: `bob@${DOMAIN}`,
        impu: `sip:bob@${DOMAIN}`,
        password: 'wrong',
      }),
    );
    const state = await registration.start();
    expect(state.lastError).toMatchObject({ code: 'EDGEPEER_SIP_AUTH_REFUSED', status: 401 });
    expect(state.status).toBe('failed');
  });

  it('answers 423 with Min-Expires and refreshes at half time over several cycles, through stale nonces', async () => {
    // Asks for 1 s; MIN_EXPIRES is 2, so the binding lasts 2 s and is refreshed every second. Nonces live 3 s,
    // so refreshes reusing the cached nonce meet stale=true challenges: answered, not counted as failures.
    const options = peer(kamailio.port, '127.0.0.1', { expires: 1 });
    const registration = track(createRegistration(options));
    const first = await registration.start();
    expect(first).toMatchObject({ registered: true, expires: 2 });
    const refreshed = await next(registration, 'registered', (s) => s.counters.refreshes >= 6, 15_000);
    expect(refreshed.counters).toMatchObject({ registrations: 1, failures: 0 });
    expect(refreshed.counters.staleNonces).toBeGreaterThanOrEqual(1);
    expect(refreshed.lastError).toBeUndefined();
    expect(await boundContact(kamailio.port, user(options))).toBe(refreshed.contact);
  });

  it('sends a REGISTER too large for UDP over TCP, keeping the UDP contact', async () => {
    const sent: string[] = [];
    const options = peer(kamailio.port, '127.0.0.1', {
      transport: 'udp',
      extraHeaders: [['X-Padding', 'p'.repeat(1400)]],
      logger: {
        ...silentLogger,
        debug: (fields, message) =>
          message === 'sip request' && sent.push(String((fields as { transport?: string }).transport)),
      },
    });
    const registration = track(createRegistration(options));
    const state = await registration.start();
    expect(state.registered).toBe(true);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sent)).toEqual(new Set(['tcp']));
    expect(state.contact).not.toContain('transport=');
    expect(await boundContact(kamailio.port, user(options))).toBe(state.contact);
  });

  it('retries 503 after its Retry-After without giving up', async () => {
    const registration = track(
      createRegistration({
        ...peer(kamailio.port),
        impi: `busy@${DOMAIN}`,
        impu: `sip:busy@${DOMAIN}`,
        password: 'busy-secret',
        retry: { baseMs: 100, maxMs: 5000 }, // Retry-After is honoured up to maxMs
      }),
    );
    const started = Date.now();
    const first = await registration.start();
    expect(first).toMatchObject({ status: 'retrying', lastError: { code: 'EDGEPEER_SIP_SERVER_ERROR', status: 503 } });
    expect(Date.parse(first.nextRetryAt!) - started).toBeGreaterThanOrEqual(900); // Retry-After: 1
    const second = await next(registration, 'state', (s) => s.counters.failures >= 2, 5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(second.status).toBe('retrying');
    expect(registration.lastError()?.exitCode).toBe(ExitCode.remote);
  });
});

describe.skipIf(!existsSync(KAMAILIO))('registrar failures', () => {
  let kamailio: Kamailio | undefined;
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.stop()));
    await kamailio?.dispose();
    kamailio = undefined;
  });

  it.each(['udp', 'tcp'] as const)(
    'registers once the registrar comes up after being down at start (%s)',
    async (transport) => {
      const port = await freePort();
      const options = peer(port, '127.0.0.1', { transport });
      const registration = track(createRegistration(options));
      const first = await registration.start();
      expect(first).toMatchObject({
        status: 'retrying',
        registered: false,
        lastError: { code: 'EDGEPEER_SIP_UNREACHABLE' },
      });
      expect(first.nextRetryAt).toBeDefined();

      const registered = next(registration, 'registered');
      kamailio = await startKamailio({ port });
      const state = await registered;
      expect(state.counters.failures).toBeGreaterThanOrEqual(1);
      expect(await boundContact(port, user(options))).toBe(state.contact);
    },
  );

  it.each(['udp', 'tcp'] as const)(
    'registers again after a registrar restart while registered (%s)',
    async (transport) => {
      kamailio = await startKamailio({ defines: { MIN_EXPIRES: 2 } });
      const options = peer(kamailio.port, '127.0.0.1', { transport, expires: 4 });
      const registration = track(createRegistration(options));
      expect((await registration.start()).registered).toBe(true);

      // The restarted registrar has forgotten the binding and its nonces. Over UDP the next refresh finds out
      // (fresh 401, answered); over TCP the dropped connection triggers a REGISTER at once, retried until it is up.
      await kamailio.restart();
      // Over TCP the client may already be back (it retries every 100-400 ms while the registrar is down).
      if (transport === 'udp') expect(await boundContact(kamailio.port, user(options))).toBeUndefined();
      const state = await next(registration, 'registered', () => true, 10_000);
      expect(state.registered).toBe(true);
      expect(await boundContact(kamailio.port, user(options))).toBe(state.contact);
    },
  );
});
