import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';

/** A port free on 127.0.0.1 now (for servers, like nginx, that cannot be told to pick one). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Resolves once `url` answers a HEAD; rejects if the process exits first. */
export async function untilAnswers(url: string, child: ChildProcess, what: string): Promise<void> {
  const exited = once(child, 'exit').then(() => {
    throw new Error(`${what} exited before it answered`);
  });
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const answered = request(url, { method: 'HEAD' }).then(
      (response) => response.statusCode < 500,
      () => false,
    );
    if (await Promise.race([answered, exited])) return;
    // connection refused: the server has not bound yet, and no event tells when it will
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer`);
}

const NGINX_CONF = (root: string, port: number, scratch: string, accessLog: boolean) => `
worker_processes 1;
pid ${scratch}/nginx.pid;
error_log ${scratch}/error.log warn;
events { worker_connections 256; }
http {
  ${
    accessLog
      ? `log_format ranges '$request_method $uri $http_range $status'; access_log ${scratch}/access.log ranges;
  log_format sent '$body_bytes_sent'; access_log ${scratch}/sent.log sent;`
      : 'access_log off;'
  }
  sendfile on;
  client_body_temp_path ${scratch}/body;
  proxy_temp_path ${scratch}/proxy;
  fastcgi_temp_path ${scratch}/fastcgi;
  uwsgi_temp_path ${scratch}/uwsgi;
  scgi_temp_path ${scratch}/scgi;
  server { listen 127.0.0.1:${port}; root ${root}; location / { } }
}
`;

export interface NginxOrigin {
  url: string;
  /** With `accessLog`: one line per request so far, "METHOD URI RANGE STATUS" (RANGE "-" when none). */
  requests(): Promise<string[]>;
  /** With `accessLog`: the body bytes nginx sent so far, by its own count ($body_bytes_sent). */
  bytesSent(): Promise<number>;
  stop(): Promise<void>;
}

/** nginx (Debian package) serving `root` on a loopback port: a real origin with Range support. */
export async function startNginx(root: string, options: { accessLog?: boolean } = {}): Promise<NginxOrigin> {
  const scratch = await mkdtemp(join(tmpdir(), 'edgepeer-nginx-'));
  await chmod(root, 0o755); // nginx workers run as an unprivileged user
  const port = await freePort();
  await writeFile(join(scratch, 'nginx.conf'), NGINX_CONF(root, port, scratch, options.accessLog === true));
  const child = spawn('nginx', ['-p', scratch, '-c', join(scratch, 'nginx.conf'), '-g', 'daemon off;'], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  await untilAnswers(`${url}/`, child, 'nginx');
  return {
    url,
    async requests() {
      const text = await readFile(join(scratch, 'access.log'), 'utf8').catch(() => '');
      return text.split('\n').filter((line) => line !== '');
    },
    async bytesSent() {
      const text = await readFile(join(scratch, 'sent.log'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((line) => line !== '')
        .reduce((sum, line) => sum + Number(line), 0);
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      await rm(scratch, { recursive: true, force: true });
    },
  };
}
