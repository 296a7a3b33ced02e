// A network namespace for a third-party client under test, joined to this one by a veth pair with two
// private addresses of a /30 and no route anywhere else: every packet stays on this machine, and a client
// that would reach out (DHT bootstrap, UPnP) finds no network even before its settings take hold. Clients
// that refuse loopback peers (Transmission) get addresses they accept.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestNamespace {
  name: string;
  /** This side's end of the veth pair: where the agent and the tracker listen for the client. */
  hostAddress: string;
  /** The client's address, inside the namespace. */
  nsAddress: string;
  /** The argv prefix that runs a command inside the namespace. */
  exec: string[];
  remove(): Promise<void>;
}

/**
 * Creates namespace `<prefix>-<pid>` with its veth pair on 10.<secondOctet>.x.y/30. Each test file takes its
 * own secondOctet and the /30 follows the process id, so files and parallel runs do not collide.
 */
export async function createTestNamespace(prefix: string, secondOctet: number): Promise<TestNamespace> {
  const tag = `${process.pid % 10_000}`;
  const name = `${prefix}-${tag}`;
  // Interface names are at most 15 characters.
  const hostLink = `${prefix.slice(0, 4)}h${tag}`;
  const nsLink = `${prefix.slice(0, 4)}n${tag}`;
  const subnet = (process.pid % 16_000) * 4;
  const base = `10.${secondOctet}.${Math.floor(subnet / 256)}`;
  const hostAddress = `${base}.${(subnet % 256) + 1}`;
  const nsAddress = `${base}.${(subnet % 256) + 2}`;
  const ip = async (...args: string[]): Promise<void> => {
    await run('ip', args);
  };
  const remove = async (): Promise<void> => {
    await ip('netns', 'del', name).catch(() => undefined);
    await ip('link', 'del', hostLink).catch(() => undefined);
  };
  await remove(); // left over from a run that was killed
  await ip('netns', 'add', name);
  try {
    await ip('link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nsLink);
    await ip('link', 'set', nsLink, 'netns', name);
    await ip('addr', 'add', `${hostAddress}/30`, 'dev', hostLink);
    await ip('link', 'set', hostLink, 'up');
    await ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsAddress}/30`, 'dev', nsLink);
    await ip('netns', 'exec', name, 'ip', 'link', 'set', nsLink, 'up');
    await ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    await remove();
    throw err;
  }
  return { name, hostAddress, nsAddress, exec: ['ip', 'netns', 'exec', name], remove };
}
