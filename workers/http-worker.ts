// Worker entry of http.threads (src/parts/serving-threads.ts): one more thread serving HTTP on the agent's
// port, over the agent's shared piece slab. The composition is src/parts/serving-thread.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { runServingThread, type ServingThreadData } from '../src/parts/serving-thread.ts';

await runServingThread(workerData as ServingThreadData, parentPort!);
