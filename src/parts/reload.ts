// SIGHUP, for any root: each setting that changed is applied on its own, and one that fails is logged and
// listed while the part it touches runs on as it was.
import type { Logger } from '../log/index.ts';

/** What a reload did: settings applied, settings that need a restart, and changes that failed (logged). */
export interface ReloadOutcome {
  applied: string[];
  restartNeeded: string[];
  failed: Array<{ setting: string; error: string }>;
}

/** An empty outcome, and the step that applies one setting into it. */
export function reloadSteps(logger: Pick<Logger, 'error'>): {
  outcome: ReloadOutcome;
  step: (setting: string, apply: () => unknown) => Promise<void>;
} {
  const outcome: ReloadOutcome = { applied: [], restartNeeded: [], failed: [] };
  const step = async (setting: string, apply: () => unknown) => {
    try {
      await apply();
      outcome.applied.push(setting);
    } catch (err) {
      logger.error({ err, setting }, 'reload: a setting could not be applied; that part runs as before');
      outcome.failed.push({ setting, error: err instanceof Error ? err.message : String(err) });
    }
  };
  return { outcome, step };
}
