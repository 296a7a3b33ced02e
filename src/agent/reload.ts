// SIGHUP's configuration diff: what changed between the running configuration and the new one, applied to
// the parts that can change while running, each on its own; the rest is named as needing a restart.
import type { Logger } from 'pino';
import type { KeyRing } from '../auth/index.ts';
import type { AgentConfig } from '../config/index.ts';
import type { HttpServer } from '../http/index.ts';
import {
  type AnnouncesPart,
  type RegistrationPart,
  type ReloadOutcome,
  reloadSteps,
  type ScrubPart,
} from '../parts/index.ts';
import { DEFAULT_QOS, type Qos } from '../qos/index.ts';

export type { ReloadOutcome };

/** The running parts a reload may change. */
export interface ReloadableParts {
  logger: Logger;
  http: HttpServer | null;
  https: HttpServer | null;
  announces: AnnouncesPart;
  registration: RegistrationPart;
  scrub: ScrubPart;
  qos: Qos;
  /** Keys of signed URL tokens, when URLs need them. */
  urlKeys: KeyRing | null;
}

/** Settings read only at start. */
const RESTART_ONLY = [
  'dataDir',
  'accounting',
  'peer',
  'http',
  'https',
  'cacheBytes',
  'cacheVerify',
  'admin',
  'hashThreads',
  'shutdownGraceMs',
  'storageControl',
] as const;

/**
 * Applies what can change while running (log level, trackers, IMS registration, scrub, HTTPS certificate,
 * access log reopened) and names the settings that take effect only at the next start. Each change is
 * applied on its own: one that fails is logged and listed in `failed`, and that part keeps running as it
 * was configured. Never rejects. Resolves with the outcome and the configuration now in effect.
 */
export async function applyReload(
  parts: ReloadableParts,
  current: AgentConfig,
  next: AgentConfig & { logLevel?: string },
): Promise<{ outcome: ReloadOutcome; config: AgentConfig }> {
  const { outcome, step } = reloadSteps(parts.logger);
  let config = current;
  if (next.logLevel && next.logLevel !== parts.logger.level) {
    await step('logLevel', () => {
      parts.logger.level = next.logLevel as string;
    });
  }
  // As nginx on USR1: logrotate moved the access log; go on in a new file at the same path.
  if (current.http?.accessLog) {
    await step('accessLog reopened', () => {
      parts.http?.reopenAccessLog();
      parts.https?.reopenAccessLog();
    });
  }
  // Signed URL token keys: the files read anew (a rotated key), the list as configured now. All or nothing:
  // a key that cannot be read keeps the old set. Turning tokens on or off needs a restart.
  const tokenKeys = next.http?.tokenKeys;
  if (parts.urlKeys && current.http && tokenKeys !== undefined && tokenKeys.length > 0) {
    await step('url token keys', async () => {
      await parts.urlKeys?.reload(tokenKeys);
      if (config.http) config = { ...config, http: { ...config.http, tokenKeys } };
    });
  }
  // A renewed certificate (same port): the next connections get it.
  const https = next.https;
  if (parts.https && https && current.https && https.port === current.https.port) {
    if (!https.cert.equals(current.https.cert) || !https.key.equals(current.https.key)) {
      await step('https certificate', () => {
        parts.https?.setCertificate({ cert: https.cert, key: https.key });
        config = { ...config, https };
      });
    }
  }
  if (next.announce && current.announce && parts.announces.running && !same(next.trackers, current.trackers)) {
    await step('trackers', () => {
      parts.announces.setTrackers(next.trackers);
      config = { ...config, trackers: next.trackers };
    });
  } else if (next.announce !== current.announce) {
    await step('announce', async () => {
      await parts.announces.stop();
      config = { ...config, announce: next.announce, trackers: next.trackers };
      if (next.announce) parts.announces.start(next.trackers);
    });
  }
  if (!same(next.ims, current.ims)) {
    await step('ims', async () => {
      await parts.registration.replace(next.ims);
      config = { ...config, ims: next.ims };
    });
  }
  if (!same(next.scrub, current.scrub)) {
    await step('scrub', async () => {
      await parts.scrub.replace(next.scrub);
      config = { ...config, scrub: next.scrub };
    });
  }
  // The configuration's limits again, also over changes made through the admin API since.
  const qos = next.qos ?? DEFAULT_QOS;
  if (!same(qos, parts.qos.settings)) {
    await step('qos', () => {
      parts.qos.update({ ...qos }, DEFAULT_QOS);
      config = { ...config, qos };
    });
  }
  // Against what is in effect now: a certificate renewed in place needs no restart.
  for (const key of RESTART_ONLY) if (!same(next[key], config[key])) outcome.restartNeeded.push(key);
  return { outcome, config };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
