export { Agent, type AgentStatus } from './agent.ts';
export { type AgentAddresses, type AgentConfig, DEFAULT_AGENT_CONFIG } from './types.ts';
