export { Agent, type AgentStatus } from './agent.ts';
export { type Demo, type DemoOptions, type DemoReady, startDemo } from './demo.ts';
export { type AgentAddresses, type AgentConfig, DEFAULT_AGENT_CONFIG } from './types.ts';
