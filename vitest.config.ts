import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs in seconds with no outside software; `interop` drives real clients and servers
// installed from Debian packages by scripts/setup-system.sh (libtorrent, aria2c, opentracker, kamailio, curl).
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/interop/**'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'interop',
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // Real clients and servers compete for two cores: run interop files one at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
