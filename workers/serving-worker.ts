// Worker entry of http.threads and peer.threads (src/parts/serving-threads.ts): one more thread serving HTTP
// and/or the peer wire on the agent's ports, over the agent's shared piece slab. The composition is
// src/parts/serving-thread.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { runServingThread, type ServingThreadData } from '../src/parts/serving-thread.ts';

await runServingThread(workerData as ServingThreadData, parentPort!);
