import { Flags } from '@oclif/core';
import { BaseCommand, controllerAdmin, controllerAdminFlags } from '../../../src/cli/index.ts';
import { parseDuration } from '../../../src/config/index.ts';

export default class ControllerTokenCreate extends BaseCommand {
  static override description = `Issue a one-time enrolment token for a new edge of the running controller.
The edge exchanges it at its first start (\`edgepeer agent --controller URL --enrol-token TOKEN\`) for its own key; the token is then spent. Only its hash is kept: copy it now.`;

  static override examples = [
    '<%= config.bin %> controller token create --ttl 1h --label edge7',
    'TOKEN=$(<%= config.bin %> controller token create --json | jq -r .token)',
  ];

  static override flags = {
    ...controllerAdminFlags,
    ttl: Flags.string({ description: 'How long the token can be used, e.g. 15m, 1h, 7d.', default: '1h' }),
    label: Flags.string({ description: 'A note kept with the token (the edge it is for).' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(ControllerTokenCreate);
    const ttlMs = parseDuration(flags.ttl, '--ttl');
    const admin = await controllerAdmin(flags);
    try {
      const created = (await admin.json('POST', '/v1/tokens', { ttlMs, label: flags.label ?? null })) as {
        token: string;
        expiresAt: number;
      };
      const expiresAt = new Date(created.expiresAt).toISOString();
      this.emit({ token: created.token, expiresAt, label: flags.label ?? null }, created.token);
      this.note(`valid once, until ${expiresAt}`);
    } finally {
      await admin.close();
    }
  }
}
