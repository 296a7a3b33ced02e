// The CDN controller's pages: overview (with the rate chart), edges (health, load, free space; drain),
// objects (the union's piece map, each serving edge's, copies per piece; purge, ingest), the peers it
// serves itself. Shared parts in common.js and lists.js.
import { api, app, card, confirmAction, formatBytes, h, percent, run, table, time } from './common.js';
import { objectList, peersPage as peersList, rateChart, trackerRows } from './lists.js';
import { drawHeatMap, drawPieceMap } from './piecemap.js';

function overviewPage() {
  const cards = h('div', { class: 'cards', id: 'cards' });
  const chart = rateChart('sent to peers and HTTP clients', 'fetched from edges');
  const trackers = h('tbody');
  const ims = h('p', { id: 'ims' });
  app.replaceChildren(
    h('h1', {}, 'CDN controller'),
    cards,
    chart.section,
    h(
      'section',
      {},
      h('h2', {}, 'Trackers'),
      table([['URL'], ['Objects', true], ['Last success'], ['Peers seen', true], ['Error']], trackers),
    ),
    h('section', {}, h('h2', {}, 'IMS registration'), ims),
  );
  const render = (o) => {
    cards.replaceChildren(
      card('Edges serving', `${o.edges.serving} of ${o.edges.enrolled}`, 'edges-serving'),
      card('Edges up', o.edges.up),
      card('Objects', o.objects, 'objects-count'),
      card('Complete in the union', o.objectsComplete),
      card('Connections', o.connections),
      card('Cache hit ratio', percent(o.cache.hitRatio), 'hit-ratio'),
      card('Fetched from edges', formatBytes(o.fetches.bytesFetched)),
      card('Failed fetches', o.fetches.fetchFailures),
      card('Role', o.leader ? 'leader' : 'standby'),
    );
    chart.draw();
    trackerRows(trackers, o.trackers);
    ims.replaceChildren(
      o.ims
        ? `${o.ims.status}${o.ims.registered ? ' (registered)' : ''}: ${o.ims.impu} at ${o.ims.registrar}`
        : h(
            'span',
            { class: 'muted' },
            o.leader ? 'IMS registration is off.' : 'Not the leader: another controller registers.',
          ),
    );
  };
  const load = async () => {
    const o = await api('overview');
    chart.set(o.rates);
    render(o);
  };
  return {
    load,
    live: {
      // The stream carries the newest rate point only: added to those fetched at load.
      overview: (o) => {
        chart.add(o.rate);
        render(o);
      },
    },
  };
}

function edgesPage() {
  const body = h('tbody', { id: 'edges' });
  const result = h('p', { id: 'drain-result', role: 'status' });
  app.replaceChildren(
    h('h1', {}, 'Edges'),
    h(
      'p',
      { class: 'muted' },
      'A draining edge takes no new requests and no placements; what it holds stays until it is taken back or removed.',
    ),
    result,
    table(
      [
        ['Name'],
        ['Id'],
        ['Health'],
        ['Connections', true],
        ['Upload', true],
        ['Free space', true],
        ['Objects', true],
        ['Pieces', true],
        ['Last seen'],
        ['Action'],
      ],
      body,
    ),
  );
  const drain = async (edge, draining) => {
    const what = draining
      ? `Drain ${edge.name} (${edge.id})? It takes no new requests or placements.`
      : `Take ${edge.name} (${edge.id}) back into service?`;
    if (!(await confirmAction(draining ? 'Drain an edge' : 'Undrain an edge', what, draining ? 'Drain' : 'Undrain')))
      return;
    try {
      const { edge: now } = await api(`edges/${edge.id}/drain`, { method: 'POST', body: JSON.stringify({ draining }) });
      result.textContent = `${edge.name}: ${now?.health ?? 'changed'}`;
      result.className = 'ok';
      await load();
    } catch (err) {
      result.textContent = err.message;
      result.className = 'error';
    }
  };
  const render = ({ edges }) =>
    body.replaceChildren(
      ...(edges.length === 0
        ? [
            h(
              'tr',
              {},
              h('td', { colspan: 10, class: 'muted' }, 'No edge enrolled (edgepeer controller token create).'),
            ),
          ]
        : edges.map((e) => {
            const draining = e.health === 'draining';
            return h(
              'tr',
              { 'data-edge-id': e.id, 'data-health': e.health },
              h('td', {}, e.name),
              h('td', { class: 'hash' }, e.id),
              h('td', { class: `health ${e.health}` }, e.health),
              h('td', { class: 'num' }, e.connections ?? '–'),
              h(
                'td',
                { class: 'num' },
                e.uploadBytesPerSecond === null ? '–' : `${formatBytes(e.uploadBytesPerSecond)}/s`,
              ),
              h(
                'td',
                { class: 'num' },
                e.freeBytes === null
                  ? '–'
                  : `${formatBytes(e.freeBytes)}${e.capacityBytes ? ` of ${formatBytes(e.capacityBytes)}` : ''}`,
              ),
              h('td', { class: 'num' }, e.objects),
              h('td', { class: 'num' }, e.pieces),
              h('td', {}, e.lastSeen ? time(Date.parse(e.lastSeen)) : 'down'),
              h(
                'td',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: draining ? '' : 'danger',
                    'data-action': draining ? 'undrain' : 'drain',
                    'aria-label': `${draining ? 'Undrain' : 'Drain'} ${e.name}`,
                    onclick: () => drain(e, !draining),
                  },
                  draining ? 'Undrain' : 'Drain',
                ),
              ),
            );
          })),
    );
  const load = async () => render(await api('edges'));
  return { load, live: { edges: render } };
}

function objectsPage() {
  return objectList({
    title: 'Objects in the CDN',
    intro: 'The union of what the serving edges hold. A purge reaches every edge holding the object.',
    ingestHint: 'Placed on edges that fetch it from the origin themselves.',
    detail: (section, id) => {
      const title = h('h2', {}, 'Object');
      const facts = h('p', { id: 'object-facts', class: 'muted' });
      const union = h('canvas', { id: 'piece-map', role: 'img', 'aria-label': 'Piece map of the union' });
      const copies = h('canvas', { id: 'copies-map', role: 'img', 'aria-label': 'Edges holding each piece' });
      const perEdge = h('div', { id: 'edge-maps' });
      section.replaceChildren(
        title,
        facts,
        h('h3', {}, 'Held by some serving edge (the union)'),
        union,
        h('h3', {}, 'Edges holding each piece'),
        h('p', { class: 'muted' }, 'Grey: no serving edge; light to dark blue: one edge to the most any piece has.'),
        copies,
        h('h3', {}, 'Each serving edge'),
        perEdge,
      );
      const refresh = async () => {
        const map = await api(`objects/${id}/coverage`);
        const width = Math.min(960, app.clientWidth - 40);
        title.textContent = map.name;
        facts.replaceChildren(
          h('span', { class: 'hash' }, map.infoHash),
          ` · ${map.piecesHeld} of ${map.pieces} pieces in the union, on ${map.edges.length} serving edges`,
        );
        drawPieceMap(union, { ...map, cached: [], corrupt: [] }, width);
        drawHeatMap(copies, map.copies, width);
        copies.setAttribute(
          'aria-label',
          copies.getAttribute('aria-label').replace('Swarm copies', 'Edges holding each piece'),
        );
        perEdge.replaceChildren(
          ...map.edges.map((edge) => {
            const canvas = h('canvas', { role: 'img', 'data-edge-id': edge.edgeId, class: 'edge-map' });
            drawPieceMap(canvas, { pieces: map.pieces, bitmap: edge.bitmap, cached: [], corrupt: [] }, width, 80);
            canvas.setAttribute('aria-label', `${edge.name}: ${edge.held} of ${map.pieces} pieces`);
            return h(
              'figure',
              {},
              canvas,
              h('figcaption', {}, `${edge.name} (${edge.edgeId}): ${edge.held} of ${map.pieces} pieces`),
            );
          }),
        );
        return map;
      };
      return { clicks: union, refresh };
    },
  });
}

function peersPage() {
  return peersList(
    'Peer wire connections to the controller itself (it serves them from the edges); the rate is over the last 2 s.',
  );
}

run({ '': overviewPage, edges: edgesPage, objects: objectsPage, peers: peersPage });
