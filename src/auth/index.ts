// The public surface of src/auth: signed URL tokens (format, keys, the check in front of object and piece URLs).
export { REDIRECT_TOKEN_TTL_S, type Refusal, type TokenCounters, UrlGate, type UrlGateOptions } from './gate.ts';
export { type IssuedToken, type IssueRequest, issueToken } from './issue.ts';
export { KeyRing, type KeySpec, keyBytes, MIN_KEY_BYTES, parseKeySpec, readKey } from './keys.ts';
export {
  isKeyId,
  isSubscriber,
  normalAddress,
  type ParsedToken,
  parseToken,
  pathAllowed,
  pathPrefixProblem,
  signatureHolds,
  signToken,
  TOKEN_HEADER,
  TOKEN_NAME,
  TOKEN_REFUSALS,
  type TokenClaims,
  type TokenRefusal,
} from './token.ts';
