// SIP registration in the IMS (3GPP TS 24.229, RFC 3261, RFC 7616): the public surface of src/ims.
export type { DigestAlgorithm, DigestChallenge } from './digest.ts';
export { defaultInstanceId, type RegistrationOptions } from './options.ts';
export {
  createRegistration,
  type Registration,
  type RegistrationCounters,
  type RegistrationEvents,
  type RegistrationState,
  type RegistrationStatus,
  refreshDelayMs,
  type StopOutcome,
} from './registration.ts';
export type { TimerSettings } from './transaction.ts';
export type { TlsOptions, TransportName } from './transport.ts';
