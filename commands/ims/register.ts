import { readFile } from 'node:fs/promises';
import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/index.ts';
import { readCaFile } from '../../src/config/index.ts';
import { fromSystemError, InvalidArgumentError, SipError } from '../../src/errors/index.ts';
import { createRegistration, type RegistrationState } from '../../src/ims/index.ts';

export default class ImsRegister extends BaseCommand {
  static override description =
    'Register an IMS public identity (SIP REGISTER with digest authentication, 3GPP TS 24.229) and report the outcome. ' +
    'With --once: register, print, deregister. Without: stay registered until interrupted, then deregister. ' +
    'The password comes from --password-file or the environment variable EDGEPEER_IMS_PASSWORD and is never printed; ' +
    'for IMS AKA (AKAv1-MD5) set EDGEPEER_IMS_AKA_K and EDGEPEER_IMS_AKA_OP or EDGEPEER_IMS_AKA_OPC (hex).';

  static override examples = [
    '<%= config.bin %> ims register --once --registrar sip:pcscf.ims.example.net:5060 --impi alice@ims.example.net --impu sip:alice@ims.example.net --password-file ./ims-password',
    'EDGEPEER_IMS_PASSWORD=... <%= config.bin %> ims register --once --registrar sip:[2001:db8::1];transport=tcp --impi alice@ims.example.net --impu sip:alice@ims.example.net --json',
  ];

  static override flags = {
    once: Flags.boolean({ description: 'Register, print the outcome, deregister and exit.', default: false }),
    registrar: Flags.string({
      description: 'P-CSCF or registrar to send REGISTER to: sip:HOST[:PORT][;transport=tcp] (sips: for TLS).',
      env: 'EDGEPEER_IMS_REGISTRAR',
      required: true,
    }),
    impi: Flags.string({
      description: 'Private user identity: the digest username.',
      env: 'EDGEPEER_IMS_IMPI',
      required: true,
    }),
    impu: Flags.string({
      description: 'Public user identity to register (a SIP URI).',
      env: 'EDGEPEER_IMS_IMPU',
      required: true,
    }),
    'password-file': Flags.string({
      description: 'File holding the password (one trailing newline is ignored). Default: $EDGEPEER_IMS_PASSWORD.',
    }),
    'tls-ca': Flags.string({
      description: "PEM file of the CAs that sign the registrar's TLS certificate; default: Node's bundled public CAs.",
      env: 'EDGEPEER_IMS_TLS_CA_FILE',
    }),
    transport: Flags.string({
      description: 'Transport; default: the registrar URI transport parameter, else udp (tls for sips:).',
      options: ['udp', 'tcp', 'tls'],
      env: 'EDGEPEER_IMS_TRANSPORT',
    }),
    expires: Flags.integer({
      description: 'Requested expiry in seconds (the registrar may grant less).',
      min: 1,
      default: 600000,
    }),
    domain: Flags.string({ description: 'Home network domain (Request-URI); default: the host of --impu.' }),
    'contact-host': Flags.string({ description: 'Address to put in the Contact; default: the local socket address.' }),
    'contact-port': Flags.integer({ description: 'Port to put in the Contact.', min: 1, max: 65535 }),
    'local-port': Flags.integer({
      description: 'Local UDP port to send from (and be reached at).',
      min: 0,
      max: 65535,
    }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ImsRegister);
    const aka = akaFromEnv();
    const password = await readPassword(flags['password-file'], aka !== undefined);
    const registration = createRegistration({
      registrar: flags.registrar,
      impi: flags.impi,
      impu: flags.impu,
      ...(password === undefined ? {} : { password }),
      ...(aka === undefined ? {} : { aka }),
      ...(flags.transport === undefined ? {} : { transport: flags.transport as 'udp' | 'tcp' | 'tls' }),
      expires: flags.expires,
      ...(flags.domain === undefined ? {} : { domain: flags.domain }),
      ...(flags['contact-host'] === undefined ? {} : { contactHost: flags['contact-host'] }),
      ...(flags['contact-port'] === undefined ? {} : { contactPort: flags['contact-port'] }),
      ...(flags['local-port'] === undefined ? {} : { localPort: flags['local-port'] }),
      ...(flags['tls-ca'] === undefined ? {} : { tls: { ca: await readCaFile(flags['tls-ca']) } }),
      userAgent: `edgepeer/${this.config.version}`,
    });

    const first = await registration.start();
    if (!first.registered && (flags.once || first.status === 'failed')) {
      await registration.stop();
      throw registration.lastError() ?? new SipError('EDGEPEER_SIP_REJECTED', 'registration failed');
    }

    if (!flags.once) {
      // Stay registered: one record per event until interrupted (or refused for good).
      const onRegistered = (s: RegistrationState) => this.emit({ event: 'registered', ...s }, describe(s));
      registration.on('registered', onRegistered);
      registration.on('failure', (error, s) =>
        this.emit(
          { event: 'failure', error: error.toJSON(), status: s.status, nextRetryAt: s.nextRetryAt },
          `registration failed: ${error.message}${s.nextRetryAt ? `; retrying at ${s.nextRetryAt}` : ''}`,
        ),
      );
      if (first.registered) onRegistered(first);
      else this.note(`not registered yet (${first.lastError?.message}); retrying at ${first.nextRetryAt}`);
      await untilInterruptedOrFailed(registration);
    }

    const last = registration.state();
    const outcome = await registration.stop();
    const record = flags.once
      ? { ...last, deregistered: outcome.deregistered }
      : { event: 'stopped', ...last, deregistered: outcome.deregistered };
    const text = outcome.deregistered ? 'deregistered' : 'not deregistered';
    this.emit(record, flags.once ? `${describe(last)}\n${text}` : text);
    if (last.status === 'failed') throw registration.lastError() ?? new SipError('EDGEPEER_SIP_REJECTED', 'failed');
    if (outcome.error) throw outcome.error;
  }
}

function describe(state: RegistrationState): string {
  const lines = [
    `registered ${state.impu} at ${state.registrar} over ${state.transport}`,
    `contact          ${state.contact}`,
    `expires          ${state.expires} s (until ${state.expiresAt})`,
    `service-route    ${state.serviceRoute.join(', ') || '(none)'}`,
    `associated URIs  ${state.associatedUris.join(', ') || '(none)'}`,
  ];
  return lines.join('\n');
}

/** IMS AKA keys only from the environment: secrets stay out of argv (and so out of `ps`). */
function akaFromEnv(): { k: string; op?: string; opc?: string } | undefined {
  const k = process.env.EDGEPEER_IMS_AKA_K;
  if (!k) return undefined;
  const op = process.env.EDGEPEER_IMS_AKA_OP || undefined;
  const opc = process.env.EDGEPEER_IMS_AKA_OPC || undefined;
  return { k, ...(op === undefined ? {} : { op }), ...(opc === undefined ? {} : { opc }) };
}

async function readPassword(file: string | undefined, optional: boolean): Promise<string | undefined> {
  let password: string | undefined;
  if (file !== undefined) {
    try {
      password = (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw fromSystemError(err, file);
    }
    if (password === '') throw new InvalidArgumentError(`--password-file ${file} is empty`, { subject: file });
  } else {
    password = process.env.EDGEPEER_IMS_PASSWORD || undefined;
    if (!password && !optional) {
      throw new InvalidArgumentError('no password: give --password-file or set EDGEPEER_IMS_PASSWORD', {
        subject: 'password',
      });
    }
  }
  return password;
}

/** Resolves on SIGINT/SIGTERM, or when the registration fails for good (no retry would help). */
function untilInterruptedOrFailed(registration: ReturnType<typeof createRegistration>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      registration.off('failure', onFailure);
      resolve();
    };
    const onFailure = (_error: unknown, state: RegistrationState) => {
      if (state.status === 'failed') done();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
    registration.on('failure', onFailure);
  });
}
