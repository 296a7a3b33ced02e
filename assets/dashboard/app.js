// The dashboard's pages: one shell (index.html), the page chosen by the path, data polled from
// /dashboard/api every 2 s. DOM built with textContent only: names from the store are never parsed as HTML.
import { drawRateChart, formatBytes } from './chart.js';
import { COLOURS, drawHeatMap, drawPieceMap, pieceAt } from './piecemap.js';

const POLL_MS = 2000;
const app = document.getElementById('app');
let csrf = null;
let refresh = async () => {};

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  if (init.method && init.method !== 'GET') {
    headers['content-type'] = 'application/json';
    headers[csrf.csrfHeader] = csrf.csrfToken;
  }
  const res = await fetch(`/dashboard/api/${path}`, { ...init, headers, credentials: 'same-origin' });
  if (res.status === 401) {
    location.assign('/dashboard/login');
    throw new Error('session ended');
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

const dialog = document.getElementById('confirm');
/** Resolves true when the admin confirms `text` in the modal dialog. */
function confirmAction(title, text, action) {
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }),
  );
}

const percent = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '–');
function card(label, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'value', id }, value), h('div', { class: 'label' }, label));
}

// Overview

function overviewPage() {
  const cards = h('div', { class: 'cards', id: 'cards' });
  const chart = h('canvas', {
    id: 'rates',
    role: 'img',
    'aria-label': 'Bytes per second sent and pulled, last 10 minutes',
    class: 'chart',
  });
  const trackers = h('tbody');
  const ims = h('p', { id: 'ims' });
  const controller = h('p', { id: 'controller' });
  const qos = h('p', { id: 'qos' });
  const qosClasses = h('tbody');
  app.replaceChildren(
    h('h1', {}, 'Overview'),
    cards,
    h(
      'section',
      {},
      h('h2', {}, 'Rates, last 10 minutes'),
      h(
        'div',
        { class: 'legend' },
        h('span', {}, h('span', { class: 'swatch sent' }), 'sent to peers and HTTP clients'),
        h('span', {}, h('span', { class: 'swatch pulled' }), 'pulled from origins'),
      ),
      chart,
    ),
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
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, 'Class'),
            h('th', { class: 'num' }, 'Weight'),
            h('th', { class: 'num' }, 'Limit'),
            h('th', { class: 'num' }, 'Sending'),
            h('th', { class: 'num' }, 'Waiting'),
          ),
        ),
        qosClasses,
      ),
    ),
    h('section', {}, h('h2', {}, 'IMS registration'), ims),
    h('section', {}, h('h2', {}, 'CDN controller'), controller),
  );
  return async () => {
    const o = await api('overview');
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
    drawRateChart(chart, o.rates, [
      { key: 'sentPerSecond', colour: `rgb(${COLOURS.held})` },
      { key: 'pulledPerSecond', colour: `rgb(${COLOURS.cached})` },
    ]);
    trackers.replaceChildren(
      ...(o.trackers.length === 0
        ? [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No trackers configured (or announces off).'))]
        : o.trackers.map((t) =>
            h(
              'tr',
              {},
              h('td', {}, h('code', {}, t.url)),
              h('td', { class: 'num' }, t.objects),
              h('td', {}, time(t.lastSuccessAt)),
              h('td', { class: 'num' }, t.peersSeen),
              h(
                'td',
                { class: t.lastError ? 'error' : '' },
                t.lastError ? (t.lastError.message ?? String(t.lastError.code)) : 'none',
              ),
            ),
          )),
    );
    ims.replaceChildren(
      o.ims
        ? `${o.ims.status}${o.ims.registered ? ' (registered)' : ''}: ${o.ims.impu} at ${o.ims.registrar}${o.ims.expiresAt ? `, expires ${new Date(o.ims.expiresAt).toLocaleTimeString()}` : ''}`
        : h('span', { class: 'muted' }, 'IMS registration is off.'),
    );
    const q = o.qos;
    const rate = (bytes) => (bytes > 0 ? `${formatBytes(bytes)}/s` : 'none');
    qos.replaceChildren(
      q
        ? `${q.active ? `global limit ${rate(q.effectiveRate)}${q.altActive ? ' (alt window)' : ''}` : 'no limits'}; sending ${rate(q.currentRates.wire + q.currentRates.http + q.currentRates.https)}; ${q.delayedSends} sends delayed; ${q.shedding.shed.wire + q.shedding.shed.http + q.shedding.shed.https} requests shed${q.shedding.active ? `; SHEDDING: ${q.shedding.active}` : ''}${q.shedding.trackerListing === 'withdrawn' ? ', withdrawn from trackers' : ''}`
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
          h('td', { class: 'num' }, rate(c.currentRate)),
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
}

// Objects

function objectsPage() {
  const params = new URLSearchParams(location.search);
  const view = {
    q: params.get('q') ?? '',
    state: params.get('state') ?? '',
    sort: params.get('sort') ?? 'name',
    offset: Number(params.get('offset') ?? 0),
    id: params.get('id') ?? '',
  };
  const LIMIT = 50;
  const remember = () => {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(view))
      if (v !== '' && v !== 0 && !(k === 'sort' && v === 'name')) next.set(k, String(v));
    history.replaceState(null, '', `/dashboard/objects${next.size ? `?${next}` : ''}`);
  };
  const search = h('input', {
    type: 'search',
    id: 'filter',
    placeholder: 'name or info hash',
    value: view.q,
    'aria-label': 'Filter objects by name or info hash',
  });
  const state = h(
    'select',
    { id: 'state', 'aria-label': 'Completeness' },
    h('option', { value: '' }, 'all'),
    h('option', { value: 'complete' }, 'complete'),
    h('option', { value: 'partial' }, 'partial'),
  );
  state.value = view.state;
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      view.q = search.value;
      view.offset = 0;
      remember();
      refresh();
    }, 250);
  });
  state.addEventListener('change', () => {
    view.state = state.value;
    view.offset = 0;
    remember();
    refresh();
  });
  const body = h('tbody', { id: 'objects' });
  const pager = h('span', { id: 'pager', class: 'muted' });
  const prev = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        view.offset = Math.max(0, view.offset - LIMIT);
        remember();
        refresh();
      },
    },
    'Previous',
  );
  const next = h(
    'button',
    {
      type: 'button',
      onclick: () => {
        view.offset += LIMIT;
        remember();
        refresh();
      },
    },
    'Next',
  );
  const sortButton = (key, label) =>
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          view.sort = view.sort === key ? `-${key}` : key;
          remember();
          refresh();
        },
      },
      label,
    );
  const detail = h('section', { id: 'detail' });
  const url = h('input', {
    type: 'url',
    id: 'ingest-url',
    placeholder: 'https://origin.example/file.bin',
    'aria-label': 'URL to ingest',
    size: 40,
  });
  const ingestStatus = h('span', { id: 'ingest-status', role: 'status' });
  const ingest = h(
    'form',
    {
      class: 'toolbar',
      onsubmit: async (event) => {
        event.preventDefault();
        if (
          !url.value ||
          !(await confirmAction('Ingest a URL', `Fetch ${url.value} into this agent's store?`, 'Ingest'))
        )
          return;
        ingestStatus.textContent = 'ingesting…';
        try {
          const { results } = await api('ingest', { method: 'POST', body: JSON.stringify({ url: url.value }) });
          const r = results[0];
          ingestStatus.textContent = r?.error
            ? `failed: ${r.error.message}`
            : `${r?.status ?? 'done'}: ${r?.infoHash ?? ''}`;
          ingestStatus.className = r?.error ? 'error' : 'ok';
          await refresh();
        } catch (err) {
          ingestStatus.textContent = err.message;
          ingestStatus.className = 'error';
        }
      },
    },
    h('label', { for: 'ingest-url' }, 'Ingest a URL'),
    url,
    h('button', { type: 'submit' }, 'Ingest'),
    ingestStatus,
  );

  app.replaceChildren(
    h('h1', {}, 'Objects'),
    ingest,
    h('div', { class: 'toolbar' }, search, state, prev, next, pager),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, sortButton('name', 'Name')),
          h('th', {}, 'Info hash'),
          h('th', { class: 'num' }, sortButton('length', 'Size')),
          h('th', { class: 'num' }, sortButton('held', 'Held')),
          h('th', {}, sortButton('added', 'Added')),
        ),
      ),
      body,
    ),
    detail,
  );

  let shownId = null;
  let detailRefresh = async () => {};
  function showObject(id) {
    shownId = id;
    const canvas = h('canvas', { id: 'piece-map', role: 'img', 'aria-label': 'Piece map' });
    const title = h('h2', {}, 'Object');
    const facts = h('p', { id: 'object-facts', class: 'muted' });
    const pieces = h('input', {
      id: 'purge-pieces',
      placeholder: 'e.g. 0-9,20',
      'aria-label': 'Pieces to purge',
      size: 16,
    });
    const result = h('span', { id: 'purge-result', role: 'status' });
    const swarmCanvas = h('canvas', { id: 'swarm-map', role: 'img', 'aria-label': 'Swarm copies per piece' });
    const swarmCaption = h('p', { id: 'swarm-caption', class: 'muted' });
    const swarmSection = h('section', {}, h('h3', {}, 'Copies per piece in the swarm'), swarmCaption, swarmCanvas);
    let map = null;
    canvas.addEventListener('click', (event) => {
      const rect = canvas.getBoundingClientRect();
      const index = map ? pieceAt(canvas, event.clientX - rect.left, event.clientY - rect.top, map.pieces) : -1;
      if (index >= 0) pieces.value = pieces.value ? `${pieces.value},${index}` : String(index);
    });
    const purge = async (piecesSpec) => {
      const what = piecesSpec ? `pieces ${piecesSpec} of ${map?.name}` : `the whole object ${map?.name}`;
      if (
        !(await confirmAction('Purge', `Purge ${what} from this agent's store? Peers and trackers are told.`, 'Purge'))
      )
        return;
      try {
        const { results } = await api('purge', {
          method: 'POST',
          body: JSON.stringify({ infoHash: id, ...(piecesSpec ? { pieces: piecesSpec } : {}) }),
        });
        const r = results[0];
        result.textContent = r.error
          ? `${r.status}: ${r.error.message}`
          : `${r.status}: ${r.piecesRemoved} pieces removed`;
        result.className = r.error ? 'error' : 'ok';
        await refresh();
      } catch (err) {
        result.textContent = err.message;
        result.className = 'error';
      }
    };
    detail.replaceChildren(
      title,
      facts,
      h(
        'div',
        { class: 'legend' },
        ...['held', 'cached', 'corrupt', 'missing'].map((k) => h('span', {}, h('span', { class: `swatch ${k}` }), k)),
      ),
      canvas,
      h('p', { class: 'muted' }, 'Click a piece to add it to the list below.'),
      h(
        'div',
        { class: 'toolbar' },
        h('label', { for: 'purge-pieces' }, 'Pieces'),
        pieces,
        h(
          'button',
          {
            type: 'button',
            id: 'purge-pieces-button',
            class: 'danger',
            onclick: () => pieces.value && purge(pieces.value),
          },
          'Purge pieces',
        ),
        h(
          'button',
          { type: 'button', id: 'purge-object-button', class: 'danger', onclick: () => purge(null) },
          'Purge object',
        ),
        result,
      ),
      swarmSection,
    );
    detailRefresh = async () => {
      let swarm = null;
      try {
        [map, { swarm }] = await Promise.all([api(`objects/${id}/pieces`), api(`objects/${id}/swarm`)]);
      } catch (err) {
        title.textContent = 'Object';
        facts.textContent = err.message;
        canvas.remove();
        detailRefresh = async () => {};
        return;
      }
      title.textContent = map.name;
      facts.replaceChildren(
        h('span', { class: 'hash' }, map.infoHash),
        ` · ${map.piecesHeld} of ${map.pieces} pieces held`,
      );
      drawPieceMap(canvas, map, Math.min(960, app.clientWidth - 40));
      if (swarm?.pieceCopies?.length) {
        swarmCaption.textContent = `From ${swarm.tracker}: ${swarm.seeds} seeds, ${swarm.leechers} leechers; darker: more copies.`;
        swarmCanvas.hidden = false;
        drawHeatMap(swarmCanvas, swarm.pieceCopies, Math.min(960, app.clientWidth - 40));
      } else {
        swarmCaption.textContent = 'No tracker of this agent reports the swarm’s pieces (an edgepeer tracker does).';
        swarmCanvas.hidden = true;
      }
    };
  }

  // The list costs the agent a sort of its whole catalog (~0.1 s at 100,000 objects): polled every 10 s,
  // at once after the admin's own changes; the selected object's piece map every poll.
  let polls = 0;
  return async (poll) => {
    if (poll && polls++ % 5 !== 0) return detailRefresh();
    const query = new URLSearchParams({ offset: String(view.offset), limit: String(LIMIT), sort: view.sort });
    if (view.q) query.set('q', view.q);
    if (view.state) query.set('state', view.state);
    const page = await api(`objects?${query}`);
    pager.textContent =
      page.total === 0 ? 'no objects' : `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}`;
    prev.disabled = view.offset === 0;
    next.disabled = view.offset + LIMIT >= page.total;
    body.replaceChildren(
      ...page.items.map((o) => {
        const select = () => {
          view.id = o.infoHash;
          remember();
          showObject(o.infoHash);
          refresh();
        };
        return h(
          'tr',
          { class: o.infoHash === view.id ? 'selected' : '', 'data-info-hash': o.infoHash },
          h(
            'td',
            {},
            h(
              'a',
              {
                href: `/dashboard/objects?id=${o.infoHash}`,
                onclick: (e) => {
                  e.preventDefault();
                  select();
                },
              },
              o.name,
            ),
          ),
          h('td', { class: 'hash' }, o.infoHash.slice(0, 12)),
          h('td', { class: 'num' }, formatBytes(o.length)),
          h('td', { class: 'num' }, `${o.piecesHeld}/${o.pieces}`),
          h('td', {}, new Date(o.addedAt).toLocaleString()),
        );
      }),
    );
    if (view.id && shownId !== view.id) showObject(view.id);
    await detailRefresh();
  };
}

// Peers

function peersPage() {
  const body = h('tbody', { id: 'peers' });
  const last = new Map();
  app.replaceChildren(
    h('h1', {}, 'Peers'),
    h('p', { class: 'muted' }, 'Peer wire connections to this agent; the rate is over the last poll (2 s).'),
    h(
      'table',
      {},
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', {}, 'Address'),
          h('th', {}, 'Client'),
          h('th', {}, 'Object'),
          h('th', { class: 'num' }, 'Sent'),
          h('th', { class: 'num' }, 'Rate'),
          h('th', {}, 'State'),
        ),
      ),
      body,
    ),
  );
  return async () => {
    const { peers } = await api('peers');
    const now = Date.now();
    body.replaceChildren(
      ...(peers.length === 0
        ? [h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No peers connected.'))]
        : peers.map((p) => {
            const key = `${p.address}:${p.port}:${p.connectedAt}`;
            const before = last.get(key);
            last.set(key, { at: now, bytes: p.uploadedBytes });
            const rate =
              before && now > before.at ? ((p.uploadedBytes - before.bytes) * 1000) / (now - before.at) : null;
            return h(
              'tr',
              { 'data-info-hash': p.infoHash ?? '', 'data-rate-positive': rate !== null && rate > 0 },
              h('td', {}, h('code', {}, `${p.address}:${p.port}`)),
              h('td', {}, p.peerId ?? '–'),
              h('td', { class: 'hash' }, p.infoHash ? p.infoHash.slice(0, 12) : '–'),
              h('td', { class: 'num' }, formatBytes(p.uploadedBytes)),
              h('td', { class: 'num' }, rate === null ? '–' : `${formatBytes(rate)}/s`),
              h('td', {}, `${p.choked ? 'choked' : 'unchoked'}${p.interested ? ', interested' : ''}`),
            );
          })),
    );
  };
}

async function main() {
  csrf = await api('session');
  document.getElementById('logout').addEventListener('click', async () => {
    await api('logout', { method: 'POST', body: '{}' });
    location.assign('/dashboard/login');
  });
  const path = location.pathname.replace(/\/$/, '');
  const page = path.endsWith('/objects') ? 'objects' : path.endsWith('/peers') ? 'peers' : 'overview';
  for (const a of document.querySelectorAll('nav a'))
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
  const update = page === 'objects' ? objectsPage() : page === 'peers' ? peersPage() : overviewPage();
  const updated = document.getElementById('updated');
  refresh = async (poll = false) => {
    try {
      await update(poll);
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      updated.className = 'muted';
    } catch (err) {
      updated.textContent = `update failed: ${err.message}`;
      updated.className = 'error';
    }
  };
  await refresh();
  document.body.dataset.ready = 'true';
  setInterval(() => {
    if (!document.hidden && !dialog.open) refresh(true);
  }, POLL_MS);
}

main();
