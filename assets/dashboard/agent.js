// The agent's pages: overview, objects (piece maps, purge, ingest) and peers. Shared parts (DOM, API,
// confirmation, live updates) in common.js.
import { api, app, card, formatBytes, h, percent, run, table, time } from './common.js';
import { objectList, peersPage as peersList, rateChart, trackerRows } from './lists.js';
import { drawHeatMap, drawPieceMap } from './piecemap.js';

// Overview

function overviewPage() {
  const cards = h('div', { class: 'cards', id: 'cards' });
  const chart = rateChart('sent to peers and HTTP clients', 'pulled from origins');
  const trackers = h('tbody');
  const ims = h('p', { id: 'ims' });
  const controller = h('p', { id: 'controller' });
  const qos = h('p', { id: 'qos' });
  const qosClasses = h('tbody');
  app.replaceChildren(
    h('h1', {}, 'Overview'),
    cards,
    chart.section,
    h(
      'section',
      {},
      h('h2', {}, 'Trackers'),
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'URL'),
            h('th', { class: 'num' }, 'Objects'),
            h('th', {}, 'Last success'),
            h('th', { class: 'num' }, 'Peers seen'),
            h('th', {}, 'Error'),
          ),
        ),
        trackers,
      ),
    ),
    h(
      'section',
      {},
      h('h2', {}, 'Egress limits (QoS)'),
      qos,
      table(
        [
          ['Class', false],
          ['Weight', true],
          ['Limit', true],
          ['Sending', true],
          ['Waiting', true],
        ],
        qosClasses,
      ),
    ),
    h('section', {}, h('h2', {}, 'IMS registration'), ims),
    h('section', {}, h('h2', {}, 'CDN controller'), controller),
  );
  const render = (o) => {
    cards.replaceChildren(
      card('Objects', o.objects, 'objects-count'),
      card('Complete', o.objectsComplete),
      card('Bytes held', formatBytes(o.bytesHeld), 'bytes-held'),
      card('Peer connections', o.peers, 'peers-count'),
      card('HTTP connections', o.httpConnections),
      card('Sent since start', formatBytes(o.sentBytes)),
      card('Cache hit ratio', percent(o.cache.hitRatio), 'hit-ratio'),
      card('Cache used', `${formatBytes(o.cache.bytes)} of ${formatBytes(o.cache.maxBytes)}`),
    );
    chart.draw();
    trackerRows(trackers, o.trackers);
    ims.replaceChildren(
      o.ims
        ? `${o.ims.status}${o.ims.registered ? ' (registered)' : ''}: ${o.ims.impu} at ${o.ims.registrar}${o.ims.expiresAt ? `, expires ${new Date(o.ims.expiresAt).toLocaleTimeString()}` : ''}`
        : h('span', { class: 'muted' }, 'IMS registration is off.'),
    );
    const q = o.qos;
    const rate = (bytes) => (bytes > 0 ? `${formatBytes(bytes)}/s` : 'none');
    qos.replaceChildren(
      q
        ? `${q.active ? `global limit ${rate(q.effectiveRate)}${q.altActive ? ' (alt window)' : ''}; sending ${rate(q.currentRates.wire + q.currentRates.http + q.currentRates.https)}` : 'no limits (rates measured only under a limit; the chart shows what is sent)'}; ${q.delayedSends} sends delayed; ${q.shedding.shed.wire + q.shedding.shed.http + q.shedding.shed.https} requests shed${q.shedding.active ? `; SHEDDING: ${q.shedding.active}` : ''}${q.shedding.trackerListing === 'withdrawn' ? ', withdrawn from trackers' : ''}`
        : h('span', { class: 'muted' }, 'No QoS status.'),
    );
    qosClasses.replaceChildren(
      ...(q?.classes ?? []).map((c) =>
        h(
          'tr',
          {},
          h('td', {}, c.name),
          h('td', { class: 'num' }, c.weight),
          h('td', { class: 'num' }, rate(c.rate)),
          h('td', { class: 'num' }, q.active ? rate(c.currentRate) : '–'),
          h('td', { class: 'num' }, c.waiting),
        ),
      ),
    );
    const link = o.controller;
    controller.replaceChildren(
      link
        ? `${link.connected ? 'connected' : 'not connected'} to ${link.controller} as ${link.edgeId ?? '(not enrolled)'}${link.draining ? ', draining' : ''}; last heartbeat ${time(link.lastHeartbeatAt)}${link.lastError ? `; last error: ${link.lastError}` : ''}`
        : h('span', { class: 'muted' }, 'Standalone: not an edge of a controller.'),
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

// Objects

function objectsPage() {
  return objectList({
    title: 'Objects',
    intro: "This agent's store; select an object for its piece map.",
    ingestHint: "Into this agent's store.",
    // The tracker learns of changes through announces, not events: its heat map is asked for every 10 s.
    every: { ms: 10_000 },
    detail: (section, id) => {
      const canvas = h('canvas', { id: 'piece-map', role: 'img', 'aria-label': 'Piece map' });
      const title = h('h2', {}, 'Object');
      const facts = h('p', { id: 'object-facts', class: 'muted' });
      const swarmCanvas = h('canvas', { id: 'swarm-map', role: 'img', 'aria-label': 'Swarm copies per piece' });
      const swarmCaption = h('p', { id: 'swarm-caption', class: 'muted' });
      section.replaceChildren(
        title,
        facts,
        h(
          'div',
          { class: 'legend' },
          ...['held', 'cached', 'corrupt', 'missing'].map((k) => h('span', {}, h('span', { class: `swatch ${k}` }), k)),
        ),
        canvas,
      );
      const swarmSection = h('section', {}, h('h3', {}, 'Copies per piece in the swarm'), swarmCaption, swarmCanvas);
      const drawSwarm = (swarm) => {
        if (!swarmSection.isConnected) section.parentNode?.append(swarmSection);
        if (swarm?.pieceCopies?.length) {
          swarmCaption.textContent = `From ${swarm.tracker}: ${swarm.seeds} seeds, ${swarm.leechers} leechers; darker: more copies.`;
          swarmCanvas.hidden = false;
          drawHeatMap(swarmCanvas, swarm.pieceCopies, Math.min(960, app.clientWidth - 40));
        } else {
          swarmCaption.textContent = 'No tracker of this agent reports the swarm’s pieces (an edgepeer tracker does).';
          swarmCanvas.hidden = true;
        }
      };
      return {
        clicks: canvas,
        extra: async () => drawSwarm((await api(`objects/${id}/swarm`)).swarm),
        refresh: async (withSwarm) => {
          const [map, swarm] = await Promise.all([
            api(`objects/${id}/pieces`),
            withSwarm ? api(`objects/${id}/swarm`).then((r) => r.swarm) : undefined,
          ]);
          title.textContent = map.name;
          facts.replaceChildren(
            h('span', { class: 'hash' }, map.infoHash),
            ` · ${map.piecesHeld} of ${map.pieces} pieces held`,
          );
          drawPieceMap(canvas, map, Math.min(960, app.clientWidth - 40));
          if (withSwarm) drawSwarm(swarm);
          return map;
        },
      };
    },
  });
}

// Peers

function peersPage() {
  return peersList('Peer wire connections to this agent; the rate is over the last 2 s.');
}

run({ '': overviewPage, objects: objectsPage, peers: peersPage });
