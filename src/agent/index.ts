// The agent's configuration lives with the rest of it in src/config; re-exported for the agent's users.
export { type AgentAddresses, type AgentConfig, DEFAULT_AGENT_CONFIG } from '../config/index.ts';
export { Agent, type AgentStatus, type ReloadOutcome, SHUTDOWN_MARGIN_MS } from './agent.ts';
export { reloadAgent } from './daemon.ts';
export { type Demo, type DemoOptions, type DemoReady, startDemo } from './demo.ts';
