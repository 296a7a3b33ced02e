// Worker entry of the accounting log's writer (src/accounting/writer.ts): reads the records the serving
// thread put in shared memory, makes their JSON lines, writes and fdatasyncs them, rotates the files.
import { parentPort, workerData } from 'node:worker_threads';
import { type LogMessage, runWriter, type WriterSettings } from '../src/accounting/writer.ts';

if (parentPort === null) throw new Error('accounting-writer runs as a worker thread');
const port = parentPort;
runWriter(workerData as WriterSettings, {
  postMessage: (message) => port.postMessage(message),
  on: (event, listener) => port.on(event, (message: LogMessage) => listener(message)),
});
