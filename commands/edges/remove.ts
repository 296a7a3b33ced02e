import { Args } from '@oclif/core';
import { BaseCommand, controllerAdmin, controllerAdminFlags } from '../../src/cli/index.ts';

export default class EdgesRemove extends BaseCommand {
  static override description =
    `Remove an edge from the running controller: its credential is revoked (its calls are refused from now on) and its pieces leave the union at once. To bring it back, enrol it again with a new token.`;

  static override examples = ['<%= config.bin %> edges remove edge-3f2a9c01b7d4'];

  static override args = { id: Args.string({ description: 'Edge id (edgepeer edges).', required: true }) };

  static override flags = { ...controllerAdminFlags };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(EdgesRemove);
    const admin = await controllerAdmin(flags);
    try {
      await admin.json('DELETE', `/v1/edges/${encodeURIComponent(args.id)}`);
      this.emit({ removed: args.id }, `removed ${args.id}`);
    } finally {
      await admin.close();
    }
  }
}
