#!/usr/bin/env node
import { execute } from '@oclif/core';

// A reader that went away (`edgepeer ls | head -1`) ends the command quietly with 0, as coreutils' tools
// end on SIGPIPE: without this, Node reports the EPIPE as an unsettled top-level await and exits 13.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

await execute({ dir: import.meta.url });
