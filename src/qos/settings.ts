// QoS settings as plain data: what the config file, flags and the admin API give, checked in one place.
import { isSubscriber } from '../auth/index.ts';
import { InvalidArgumentError } from '../errors/index.ts';

export const PROTOCOLS = ['wire', 'http', 'https'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export interface QosClass {
  name: string;
  /** Share under contention, against the other classes' weights. */
  weight: number;
  /** The class's own limit, bytes/s; 0: none. */
  rate: number;
}

/** Every rate in bytes per second; 0: no limit. */
export interface QosSettings {
  /** All egress of the peer wire and HTTP(S) servers together. */
  rate: number;
  /** Per protocol. */
  wireRate: number;
  httpRate: number;
  httpsRate: number;
  /** Each object on its own. */
  objectRate: number;
  /** Each client address on its own. */
  clientRate: number;
  /** Priority classes; objects not assigned are in `default` (weight 1 unless listed). */
  classes: QosClass[];
  /** Info hash (lowercase hex) -> class name. */
  objectClasses: Record<string, string>;
  /**
   * Subscriber (the `sub` of a signed URL token: an IMS public identity) -> class name; it takes precedence
   * over the object's class. HTTP(S) only: the peer wire carries no token.
   */
  subscriberClasses: Record<string, string>;
  /** The global rate during `altWindow` (Transmission's alt-speed); 0: no alternative limit. */
  altRate: number;
  altWindow: string | null;
  /** Load shedding: above any of these, new requests are refused (503 + Retry-After, BEP 6 reject); 0: off. */
  shedConnections: number;
  shedQueuedBytes: number;
  shedLoopDelayMs: number;
  /** Retry-After of a shed HTTP request, ms (sent in whole seconds). */
  retryAfterMs: number;
}

export const DEFAULT_CLASS = 'default';

export const DEFAULT_QOS: Readonly<QosSettings> = Object.freeze({
  rate: 0,
  wireRate: 0,
  httpRate: 0,
  httpsRate: 0,
  objectRate: 0,
  clientRate: 0,
  classes: [],
  objectClasses: {},
  subscriberClasses: {},
  altRate: 0,
  altWindow: null,
  shedConnections: 0,
  shedQueuedBytes: 0,
  shedLoopDelayMs: 0,
  retryAfterMs: 5000,
});

const RATE_KEYS = [
  'rate',
  'wireRate',
  'httpRate',
  'httpsRate',
  'objectRate',
  'clientRate',
  'altRate',
  'shedConnections',
  'shedQueuedBytes',
  'shedLoopDelayMs',
  'retryAfterMs',
] as const;
const MAX_RATE = 2 ** 50;

/** `base` overlaid with `given` (a partial, e.g. an admin API request), checked: InvalidArgumentError naming the field. */
export function resolveQos(given: Record<string, unknown>, base: QosSettings = DEFAULT_QOS): QosSettings {
  const settings: QosSettings = {
    ...base,
    classes: [...base.classes],
    objectClasses: { ...base.objectClasses },
    subscriberClasses: { ...base.subscriberClasses },
  };
  for (const [key, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if ((RATE_KEYS as readonly string[]).includes(key)) {
      settings[key as (typeof RATE_KEYS)[number]] = rateOf(key, value);
    } else if (key === 'classes') {
      settings.classes = typeof value === 'string' ? parseClasses(value) : classesOf(value);
    } else if (key === 'objectClasses' || key === 'subscriberClasses') {
      settings[key] = parseAssignments(key, value);
    } else if (key === 'altWindow') {
      if (value === null || value === '') settings.altWindow = null;
      else if (typeof value === 'string') {
        altWindowOf(value);
        settings.altWindow = value.trim();
      } else throw invalid('altWindow', 'must be HH:MM-HH:MM or null');
    } else {
      throw invalid(
        key,
        `is not a QoS setting (known: ${[...RATE_KEYS, 'classes', 'objectClasses', 'subscriberClasses', 'altWindow'].join(', ')})`,
      );
    }
  }
  for (const key of ['objectClasses', 'subscriberClasses'] as const) {
    for (const className of Object.values(settings[key])) {
      if (className !== DEFAULT_CLASS && !settings.classes.some((c) => c.name === className)) {
        throw invalid(key, `names class ${JSON.stringify(className)}, which qos.classes does not define`);
      }
    }
  }
  return settings;
}

/** A daily local-time window in minutes since midnight; `to` before `from` wraps past midnight. */
export interface DailyWindow {
  fromMinute: number;
  toMinute: number;
}

/** "HH:MM-HH:MM" (24-hour local time). */
export function altWindowOf(text: string): DailyWindow {
  const match = /^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$/.exec(text.trim());
  const minute = (h: string, m: string) => {
    const value = Number(h) * 60 + Number(m);
    return Number(m) < 60 && value <= 24 * 60 ? value : null;
  };
  const fromMinute = match ? minute(match[1]!, match[2]!) : null;
  const toMinute = match ? minute(match[3]!, match[4]!) : null;
  if (fromMinute !== null && toMinute !== null && fromMinute !== toMinute) return { fromMinute, toMinute };
  throw invalid(
    'altWindow',
    `must be HH:MM-HH:MM in local time with different ends (such as 09:00-18:00), got ${JSON.stringify(text)}`,
  );
}

/** "gold:3,bronze:1:10MiB": name:weight[:rate]. */
export function parseClasses(text: string): QosClass[] {
  const classes: QosClass[] = [];
  for (const item of text.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const [name = '', weight = '', rate] = item.split(':').map((s) => s.trim());
    classes.push(
      classOf({
        name,
        weight: /^\d+$/.test(weight) ? Number(weight) : weight,
        rate: rate === undefined ? 0 : sizeOf('classes', rate),
      }),
    );
  }
  return checkClassNames(classes);
}

type AssignmentKey = 'objectClasses' | 'subscriberClasses';

/** What an assignment maps to a class, checked: an info hash (lower-cased) or a subscriber. */
const ASSIGNED: Record<AssignmentKey, { what: string; check: (member: string) => string }> = {
  objectClasses: { what: '<info hash>', check: hashOf },
  subscriberClasses: { what: '<subscriber>', check: subscriberOf },
};

/**
 * `qos.objectClasses` ("<info hash>=gold,...") or `qos.subscriberClasses` ("sip:alice@ims.example.net=gold,...")
 * as a map, from that text or from {"<member>": "<class>"}.
 */
export function parseAssignments(key: AssignmentKey, value: unknown): Record<string, string> {
  const { what, check } = ASSIGNED[key];
  const map: Record<string, string> = {};
  if (typeof value === 'string') {
    for (const item of value.split(',').map((s) => s.trim())) {
      if (item === '') continue;
      // A subscriber may hold no "=", so the last one separates the class.
      const eq = item.lastIndexOf('=');
      if (eq <= 0) throw invalid(key, `expected ${what}=<class>, got ${JSON.stringify(item)}`);
      map[check(item.slice(0, eq).trim())] = nameOf(item.slice(eq + 1).trim());
    }
    return map;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(key, `must be {"${what}": "<class>"} or "${what}=<class>,..."`);
  }
  for (const [member, name] of Object.entries(value)) map[check(member)] = nameOf(name);
  return map;
}

export function formatClasses(classes: readonly QosClass[]): string {
  return classes.map((c) => `${c.name}:${c.weight}${c.rate > 0 ? `:${c.rate}` : ''}`).join(',');
}

function classesOf(value: unknown): QosClass[] {
  if (!Array.isArray(value))
    throw invalid('classes', 'must be a list of {name, weight, rate} or "name:weight[:rate],..."');
  return checkClassNames(value.map((item) => classOf(item as Record<string, unknown>)));
}

function classOf(item: Record<string, unknown>): QosClass {
  const name = nameOf(item.name);
  const weight = item.weight;
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 1000) {
    throw invalid('classes', `class ${name}: weight must be an integer from 1 to 1000, got ${JSON.stringify(weight)}`);
  }
  return { name, weight, rate: item.rate === undefined ? 0 : rateOf('classes', item.rate) };
}

function checkClassNames(classes: QosClass[]): QosClass[] {
  const seen = new Set<string>();
  for (const c of classes) {
    if (seen.has(c.name)) throw invalid('classes', `class ${c.name} is listed twice`);
    seen.add(c.name);
  }
  return classes;
}

/** A subscriber as a signed URL token names it (src/auth's rule). */
function subscriberOf(subscriber: string): string {
  if (!isSubscriber(subscriber)) {
    throw invalid('subscriberClasses', `not a subscriber identity: ${JSON.stringify(subscriber)}`);
  }
  return subscriber;
}

function nameOf(name: unknown): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw invalid('classes', `a class name is letters, digits, _ and -, got ${JSON.stringify(name)}`);
  }
  return name;
}

function hashOf(hash: string): string {
  if (!/^[0-9a-fA-F]{40}$/.test(hash))
    throw invalid('objectClasses', `expected a 40-hex info hash, got ${JSON.stringify(hash)}`);
  return hash.toLowerCase();
}

function rateOf(key: string, value: unknown): number {
  if (typeof value === 'string') return sizeOf(key, value);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_RATE) {
    throw invalid(
      key,
      `must be bytes per second (an integer >= 0, or a size such as 5MiB), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1e6,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1e9,
};

/** "5MiB", "100mb", "1g", "0": bytes. */
export function sizeOf(key: string, text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined)
    throw invalid(key, `must be a size such as 5MiB or 100MB (per second), got ${JSON.stringify(text)}`);
  return rateOf(key, Math.round(Number(match[1]) * unit));
}

function invalid(key: string, problem: string): InvalidArgumentError {
  return new InvalidArgumentError(`qos ${key} ${problem}`, { subject: key });
}
