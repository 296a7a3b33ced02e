import { Args } from '@oclif/core';
import { findAgent, RemoteOperations, readToken } from '../../src/admin/index.ts';
import { BaseCommand, configFlag, dataDirFlag } from '../../src/cli/index.ts';
import { AgentNotRunningError } from '../../src/errors/index.ts';
import { type PolicyExplanation, renderExplanation } from '../../src/policy/index.ts';

export default class PolicyExplain extends BaseCommand {
  static override description =
    `Show the running agent's storage control decisions for one object: per piece, the copies in the swarm and outside the CDN, whether this agent holds it, the demand, the decision and why (docs/policy.md).
Exit code 0; 4 if the object is unknown, storage control is off or has not decided yet; 7 if no agent runs.`;

  static override examples = [
    '<%= config.bin %> policy explain 0123456789abcdef0123456789abcdef01234567',
    '<%= config.bin %> policy explain ep1.mp4 --json | jq ".pieces[] | select(.action==\\"ingest\\")"',
  ];

  static override args = { id: Args.string({ description: 'Info hash or name of the object.', required: true }) };

  static override flags = { config: configFlag, 'data-dir': dataDirFlag };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(PolicyExplain);
    const agent = await findAgent(flags['data-dir']);
    if (!agent) {
      throw new AgentNotRunningError(`no agent runs on ${flags['data-dir']} (no live agent.json there)`, {
        subject: flags['data-dir'],
      });
    }
    const remote = new RemoteOperations(agent.adminUrl, await readToken(agent.tokenFile));
    try {
      const explanation = (await remote.json('GET', `/v1/policy/${encodeURIComponent(args.id)}`)) as PolicyExplanation;
      this.emit(explanation, renderExplanation(explanation));
    } finally {
      await remote.close();
    }
  }
}
