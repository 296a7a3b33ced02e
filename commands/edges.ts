import { BaseCommand, controllerAdmin, controllerAdminFlags } from '../src/cli/index.ts';
import { formatBytes } from '../src/config/index.ts';
import type { EdgeSummary } from '../src/controller/index.ts';

export default class Edges extends BaseCommand {
  static override description = `List the running controller's edges: health, load, free space, objects and pieces held.
Health: up, draining (takes no new requests), set-aside (failed a fetch lately), down (missed 3 heartbeats, or left).`;

  static override examples = [
    '<%= config.bin %> edges',
    '<%= config.bin %> edges --json | jq -r "select(.health==\\"down\\") | .id"',
  ];

  static override flags = { ...controllerAdminFlags };

  async run(): Promise<void> {
    const { flags } = await this.parse(Edges);
    const admin = await controllerAdmin(flags);
    try {
      const edges = (await admin.json('GET', '/v1/edges')) as EdgeSummary[];
      for (const edge of edges) this.emit(edge, line(edge));
      if (edges.length === 0)
        this.note('no edges enrolled (edgepeer controller token create, then edgepeer agent --controller)');
    } finally {
      await admin.close();
    }
  }
}

function line(edge: EdgeSummary): string {
  const space = edge.freeBytes === null ? '-' : `${formatBytes(edge.freeBytes)} free`;
  const load = edge.connections === null ? '-' : `${edge.connections} conn`;
  return [
    edge.id,
    edge.name,
    edge.shedding ? `${edge.health},shedding` : edge.health,
    edge.httpBaseUrl ?? '-',
    load,
    space,
    `${edge.objects} objects`,
    `${edge.pieces} pieces`,
  ].join('\t');
}
