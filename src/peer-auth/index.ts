// The public surface of src/peer-auth: who may fetch on the peer wire. Passkeys (per subscriber, in the
// announce URL, checked by the reference tracker), the allow-list of (address, info hash) the tracker builds
// from the announces it answered, and an agent's copy of it (followed by long poll). docs/auth.md.
export {
  ALLOW_LIST_MAX_WAIT_S,
  type AllowEntry,
  AllowList,
  type AllowSnapshot,
  allowListPoll,
  normalAddress,
} from './allow-list.ts';
export { AllowListFollower, type AllowListFollowerOptions, type PeerAuthStatus } from './follow.ts';
export {
  isPasskey,
  isPublicIdentity,
  PASSKEY,
  PasskeyFile,
  PasskeyHook,
  type PasskeySource,
  parsePasskeys,
} from './passkeys.ts';
