import cliProgress from 'cli-progress';
import { formatBytes } from '../config/index.ts';

/** A progress bar on stderr when it is a TTY and output is for people; otherwise nothing. */
export interface ProgressBar {
  update(done: number, total: number | null): void;
  stop(): void;
}

const SILENT: ProgressBar = { update() {}, stop() {} };

export function progressBar(label: string, enabled: boolean): ProgressBar {
  if (!enabled || !process.stderr.isTTY) return SILENT;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `{label} [{bar}] {percentage}% {done}/{size} {speed}/s eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let running = false;
  return {
    update(done, total) {
      const elapsed = Math.max(0.001, (Date.now() - started) / 1000);
      const payload = {
        label,
        done: formatBytes(done),
        size: total === null ? '?' : formatBytes(total),
        speed: formatBytes(done / elapsed),
      };
      if (!running) {
        bar.start(total ?? done + 1, done, payload);
        running = true;
      } else {
        if (total !== null) bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
