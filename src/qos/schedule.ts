// The alternative-rate schedule (Transmission's alt-speed): a daily local-time window in which the global
// limit is `altRate` instead of `rate`.
import { altWindowOf } from './settings.ts';

/** Whether `now` is inside the window, and ms until that changes (null: no window). */
export function msUntilAlt(window: string | null, now: Date): { inside: boolean; changeInMs: number | null } {
  if (window === null) return { inside: false, changeInMs: null };
  const { fromMinute, toMinute } = altWindowOf(window);
  const minuteNow = now.getHours() * 60 + now.getMinutes();
  const inside =
    fromMinute < toMinute
      ? minuteNow >= fromMinute && minuteNow < toMinute
      : minuteNow >= fromMinute || minuteNow < toMinute;
  const target = inside ? toMinute : fromMinute;
  const minutes = (target - minuteNow + 24 * 60) % (24 * 60) || 24 * 60;
  return { inside, changeInMs: minutes * 60_000 - now.getSeconds() * 1000 - now.getMilliseconds() };
}
