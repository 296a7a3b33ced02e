// Configuration of edgepeer: units, default paths, the agent's settings (defaults < config file < env < flags),
// the starter file and the systemd unit. The public surface of src/config.
// Every command imports this folder, so the schema library (zod) and the YAML parser are loaded only by the
// functions that need them (about 100 ms of start-up otherwise).
import type { FileLayer } from './file.ts';
import type { ResolvedConfig, ResolveOptions } from './resolve.ts';

export { type AgentAddresses, type AgentConfig, DEFAULT_AGENT_CONFIG } from './agent-config.ts';
export { type ControllerConfig, DEFAULT_CONTROLLER_CONFIG } from './controller-config.ts';
export {
  CONTROLLER_CONFIG_ENV,
  CONTROLLER_SETTINGS,
  type ControllerSetting,
  controllerEnvName,
  defaultControllerDataDir,
  resolveControllerConfig,
} from './controller-settings.ts';
export type { FileLayer, Layer } from './file.ts';
export {
  type ConfigIssue,
  type ConfigSource,
  describeOrigin,
  formatIssue,
  issuesOf,
  type Origin,
} from './issues.ts';
export {
  defaultConfigFile,
  defaultDataDir,
  type LocateOptions,
  locateConfigFile,
  SYSTEM_CONFIG_FILE,
  userConfigFile,
} from './paths.ts';
export { redactConfig } from './redact.ts';
export { type RedisState, type RedisStateSetting, redisStateOf } from './redis-state.ts';
export type { EdgepeerConfig, EffectiveSetting, ResolvedConfig, ResolveOptions } from './resolve.ts';
export {
  AGENT_FLAGS,
  type AgentFlag,
  EXTRA_ENV,
  envName,
  LOG_LEVELS,
  type LogLevel,
  SETTING_KEYS,
  SETTINGS,
  type SettingKey,
  type SettingSpec,
  type SettingValue,
  showValue,
} from './settings.ts';
export { renderStarterConfig, SECTION_DOCS, type StarterOptions, writeStarterConfig } from './starter.ts';
export {
  chooseServiceNode,
  DEFAULT_CONTROLLER_SERVICE,
  DEFAULT_SERVICE,
  edgepeerEntry,
  type InstallServiceOptions,
  installService,
  nodeVersionOf,
  renderServiceUnit,
  type ServiceInstallResult,
  type UnitOptions,
} from './systemd.ts';
export { readCaFile, readCertificatePair } from './tls-files.ts';
export { formatBytes, formatDuration, formatSize, parseDuration, parseSize } from './units.ts';

/**
 * The configuration `edgepeer agent` runs with: embedded defaults < config file < EDGEPEER_* environment <
 * flags. Throws ConfigError (EDGEPEER_CONFIG_INVALID, exit 6) listing every problem, each naming its key, the
 * value and where it came from (file and line, variable or flag). Secrets never appear in messages.
 */
export async function resolveAgentConfig(options: ResolveOptions = {}): Promise<ResolvedConfig> {
  return (await import('./resolve.ts')).resolveAgentConfig(options);
}

/** Reads and checks a config file on its own (no env, no flags); problems come back as issues. */
export async function readConfigFile(file: string): Promise<FileLayer> {
  return (await import('./file.ts')).readConfigFile(file);
}

/** Checks config file text; `file` names it in issues and anchors its relative paths. */
export async function parseConfigText(text: string, file: string): Promise<FileLayer> {
  return (await import('./file.ts')).parseConfigText(text, file);
}
