// One GET on a connection of its own (agent: false, Connection: close): with serving threads on one port
// (SO_REUSEPORT) the kernel spreads connections, not requests, over the threads.
import { request } from 'node:http';

export function getOnNewConnection(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}
