// The dashboard's off switch: an agent with admin.dashboard false serves its admin API and no page under
// /dashboard; with the default it serves the login page.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/index.ts';
import { testAgentConfig } from '../helpers/agent.ts';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'edgepeer-dashboard-off-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loginPageStatus(dashboard: boolean): Promise<{ login: number; api: number }> {
  const agent = await Agent.start(
    testAgentConfig(join(dir, String(dashboard)), { admin: { host: '127.0.0.1', port: 0, dashboard } }),
    pino({ level: 'silent' }),
  );
  try {
    const base = agent.where().adminUrl as string;
    const login = await request(`${base}/dashboard/login`);
    await login.body.dump();
    const health = await request(`${base}/healthz`);
    await health.body.dump();
    return { login: login.statusCode, api: health.statusCode };
  } finally {
    await agent.stop();
  }
}

describe('admin.dashboard', () => {
  it('false: no dashboard page (the admin API asks for its bearer token), the admin API still answers', async () => {
    expect(await loginPageStatus(false)).toEqual({ login: 401, api: 200 });
  });

  it('true (the default): the login page', async () => {
    expect(await loginPageStatus(true)).toEqual({ login: 200, api: 200 });
  });
});
