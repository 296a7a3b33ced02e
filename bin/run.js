#!/usr/bin/env node
// Before anything else loads: on an older Node (npm only warns at install) undici and oclif fail with a
// TypeError that tells the user nothing. Say which Node is needed and how to get it.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  process.stderr.write(
    `edgepeer needs Node.js 22.19 or newer; this is Node.js ${process.versions.node} (${process.execPath}).\n` +
      'Install a current Node.js (e.g. Debian: the nodejs package of trixie or NodeSource; or nvm install 24) and run edgepeer with it.\n',
  );
  process.exit(1);
}

// A reader that went away (`edgepeer ls | head -1`) ends the command quietly with 0, as coreutils' tools
// end on SIGPIPE: without this, Node reports the EPIPE as an unsettled top-level await and exits 13.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

// From a clone, commands run from the build (dist/): say how to make it rather than oclif's "command not found".
const { existsSync } = await import('node:fs');
if (!existsSync(new URL('../dist/commands', import.meta.url))) {
  process.stderr.write('edgepeer is not built: run `npm run build` in its folder first.\n');
  process.exit(1);
}

const { execute, settings } = await import('@oclif/core');
// Commands always run from the build: with NODE_ENV=development or test, oclif would otherwise look for
// TypeScript sources and warn that it cannot find them.
settings.enableAutoTranspile = false;
await execute({ dir: import.meta.url });
