// Where the controller's edges are (src/topology): an edge's PID is that of its HTTP base URL's address
// (an edge named by a host name has none, and comes after the mapped ones). HTTP clients are sent to the
// edge nearest to them; pieces for peers are fetched from the edge nearest to the controller (its home
// address). Bytes are counted within and across PIDs.
import { PidTraffic, type Topology } from '../topology/index.ts';
import type { EdgeCost } from './choice.ts';
import type { FleetEdge } from './fleet-catalog.ts';

export class EdgeNearness {
  readonly topology: Topology;
  /** The controller's own address as the network map knows it, or null (then pieces ignore cost). */
  readonly homeAddress: string | null;
  /** Bytes of HTTP requests redirected: client PID and edge PID. */
  readonly redirected = new PidTraffic();
  /** Verified piece bytes fetched from edges for peers: the controller's PID and the edge's. */
  readonly fetched = new PidTraffic();
  readonly #urlPids = new Map<string, string | null>();
  #mapVersion = 0;
  #seenVersion = 0;

  constructor(topology: Topology, homeAddress: string | null) {
    this.topology = topology;
    this.homeAddress = homeAddress;
    topology.onReload(() => {
      this.#mapVersion += 1;
    });
  }

  get homePid(): string | null {
    return this.homeAddress === null ? null : this.topology.pidOf(this.homeAddress);
  }

  edgePid(edge: FleetEdge): string | null {
    const url = edge.liveness?.address.httpBaseUrl;
    if (url === undefined) return null;
    if (this.#seenVersion !== this.#mapVersion) {
      this.#urlPids.clear();
      this.#seenVersion = this.#mapVersion;
    }
    let pid = this.#urlPids.get(url);
    if (pid === undefined) {
      pid = this.topology.pidOf(hostOf(url));
      if (this.#urlPids.size > 10_000) this.#urlPids.clear();
      this.#urlPids.set(url, pid);
    }
    return pid;
  }

  /** The cost of each edge seen from `fromPid`. */
  costFrom(fromPid: string | null): EdgeCost {
    return (edge) => this.topology.cost(fromPid, this.edgePid(edge));
  }

  status() {
    return {
      ...this.topology.status(),
      homeAddress: this.homeAddress,
      homePid: this.homePid,
      redirectedBytes: this.redirected.toJSON(),
      fetchedBytes: this.fetched.toJSON(),
    };
  }
}

/** The host of an http(s) URL, an IPv6 literal without its brackets. */
function hostOf(url: string): string {
  try {
    const host = new URL(url).hostname;
    return host.startsWith('[') ? host.slice(1, -1) : host;
  } catch {
    return '';
  }
}
