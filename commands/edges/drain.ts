import { Args, Flags } from '@oclif/core';
import { BaseCommand, controllerAdmin, controllerAdminFlags } from '../../src/cli/index.ts';

export default class EdgesDrain extends BaseCommand {
  static override description =
    `Drain an edge of the running controller: it gets no new redirects, fetches or placements, and its pieces leave the union (what only it holds is no longer announced); --undo puts it back in service.`;

  static override examples = [
    '<%= config.bin %> edges drain edge-3f2a9c01b7d4',
    '<%= config.bin %> edges drain edge-3f2a9c01b7d4 --undo',
  ];

  static override args = { id: Args.string({ description: 'Edge id (edgepeer edges).', required: true }) };

  static override flags = { ...controllerAdminFlags, undo: Flags.boolean({ description: 'Back in service.' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(EdgesDrain);
    const admin = await controllerAdmin(flags);
    try {
      await admin.json('POST', `/v1/edges/${encodeURIComponent(args.id)}/drain`, { draining: !flags.undo });
      this.emit({ id: args.id, draining: !flags.undo }, `${args.id} ${flags.undo ? 'back in service' : 'draining'}`);
    } finally {
      await admin.close();
    }
  }
}
