export { Agent, type AgentStatus, type ReloadOutcome, SHUTDOWN_MARGIN_MS } from './agent.ts';
export { reloadAgent, stopOnUnexpectedError } from './daemon.ts';
export { type Demo, type DemoOptions, type DemoReady, startDemo } from './demo.ts';
export { type AgentAddresses, type AgentConfig, DEFAULT_AGENT_CONFIG } from './types.ts';
