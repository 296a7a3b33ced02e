// The swarm store contract against the tracker's in-memory store.
import { MemorySwarmStore } from '../../src/tracker/server/swarm-store.ts';
import { swarmStoreContract } from './swarm-store-contract.ts';

swarmStoreContract('memory', (limits) => new MemorySwarmStore(limits));
