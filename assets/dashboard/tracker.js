// The reference tracker's pages: overview and swarms, each swarm with its copies per piece as a heat map
// (the tracker's swarm statistics) and its peers. Shared parts in common.js.
import { api, app, card, formatBytes, h, run, table } from './common.js';
import { drawHeatMap } from './piecemap.js';

function overviewPage() {
  const cards = h('div', { class: 'cards', id: 'cards' });
  app.replaceChildren(h('h1', {}, 'Tracker'), cards);
  const render = (o) =>
    cards.replaceChildren(
      card('Swarms', o.swarms, 'swarms-count'),
      card('Peers', o.peers, 'peers-count'),
      card('Bitmaps kept', formatBytes(o.bitmapBytes)),
      card('Swarms evicted', o.evictedSwarms),
    );
  return { load: async () => render(await api('overview')), live: { overview: render } };
}

function swarmsPage() {
  const params = new URLSearchParams(location.search);
  const view = {
    q: params.get('q') ?? '',
    sort: params.get('sort') ?? '-peers',
    offset: 0,
    id: params.get('id') ?? '',
  };
  const body = h('tbody', { id: 'swarms' });
  const pager = h('span', { id: 'pager', class: 'muted' });
  const search = h('input', {
    type: 'search',
    id: 'filter',
    placeholder: 'info hash',
    value: view.q,
    'aria-label': 'Filter swarms by info hash',
  });
  const prev = h('button', { type: 'button', onclick: () => page(-50) }, 'Previous');
  const next = h('button', { type: 'button', onclick: () => page(50) }, 'Next');
  function page(by) {
    view.offset = Math.max(0, view.offset + by);
    loadList();
  }
  let typing;
  search.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      view.q = search.value.trim().toLowerCase();
      view.offset = 0;
      loadList();
    }, 250);
  });
  const sortButton = (key, label) =>
    h(
      'button',
      {
        type: 'button',
        onclick: () => {
          view.sort = view.sort === `-${key}` ? key : `-${key}`;
          loadList();
        },
      },
      label,
    );
  const title = h('h2', {}, 'Swarm');
  const facts = h('p', { id: 'swarm-facts', class: 'muted' });
  const heat = h('canvas', { id: 'swarm-map', role: 'img', 'aria-label': 'Copies per piece' });
  const peers = h('tbody', { id: 'swarm-peers' });
  const detail = h(
    'section',
    { id: 'detail', hidden: true },
    title,
    facts,
    h(
      'p',
      { class: 'muted' },
      'Copies of each piece among peers whose pieces the tracker knows: grey none, light to dark blue one to the most.',
    ),
    heat,
    h('h3', {}, 'Peers (most recently seen first, at most 100)'),
    table([['Address'], ['Progress', true], ['Left', true], ['CDN'], ['Last seen']], peers),
  );
  app.replaceChildren(
    h('h1', {}, 'Swarms'),
    h('div', { class: 'toolbar' }, search, prev, next, pager),
    table(
      [
        [sortButton('hash', 'Info hash')],
        [sortButton('seeds', 'Seeds'), true],
        [sortButton('leechers', 'Leechers'), true],
        ['CDN peers', true],
        ['Pieces', true],
      ],
      body,
    ),
    detail,
  );
  let shown = [];
  const loadList = async () => {
    const query = new URLSearchParams({ sort: view.sort, offset: String(view.offset) });
    if (view.q) query.set('q', view.q);
    const page = await api(`swarms?${query}`);
    shown = page.items.map((s) => s.infoHash);
    pager.textContent =
      page.total === 0
        ? 'no swarms'
        : `${page.offset + 1}–${page.offset + page.items.length} of ${page.total}${page.truncated ? '+' : ''}`;
    prev.disabled = view.offset === 0;
    next.disabled = view.offset + page.limit >= page.total;
    body.replaceChildren(
      ...page.items.map((s) =>
        h(
          'tr',
          { 'data-info-hash': s.infoHash, class: s.infoHash === view.id ? 'selected' : '' },
          h(
            'td',
            {},
            h(
              'a',
              {
                class: 'hash',
                href: `/dashboard/swarms?id=${s.infoHash}`,
                onclick: (e) => {
                  e.preventDefault();
                  view.id = s.infoHash;
                  history.replaceState(null, '', `/dashboard/swarms?id=${s.infoHash}`);
                  loadList();
                  loadSwarm();
                },
              },
              s.infoHash,
            ),
          ),
          h('td', { class: 'num' }, s.seeds),
          h('td', { class: 'num' }, s.leechers),
          h('td', { class: 'num' }, s.networkPeers),
          h('td', { class: 'num' }, s.pieceCount ?? '–'),
        ),
      ),
    );
  };
  const loadSwarm = async () => {
    if (!view.id) return;
    const stats = await api(`swarms/${view.id}`);
    detail.hidden = false;
    title.textContent = `Swarm ${view.id.slice(0, 12)}…`;
    facts.textContent = `${stats.seeds} seeds, ${stats.leechers} leechers, ${stats.downloaded} completed, ${stats.peersWithUnknownPieces} with unknown pieces; version ${stats.version}`;
    if (stats.pieceCopies?.length) {
      heat.hidden = false;
      drawHeatMap(heat, stats.pieceCopies, Math.min(960, app.clientWidth - 40));
    } else heat.hidden = true;
    peers.replaceChildren(
      ...(stats.peers.length === 0
        ? [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No peers.'))]
        : stats.peers.map((p) =>
            h(
              'tr',
              {},
              h('td', {}, h('code', {}, `${p.ip}:${p.port}`)),
              h('td', { class: 'num' }, p.progress === null ? '–' : `${(p.progress * 100).toFixed(1)} %`),
              h('td', { class: 'num' }, formatBytes(p.left)),
              h('td', {}, p.network ? 'yes' : ''),
              h('td', {}, new Date(p.lastSeen).toLocaleTimeString()),
            ),
          )),
    );
  };
  return {
    load: async () => {
      await loadList();
      await loadSwarm();
    },
    live: {
      swarms: async (change) => {
        const touches = (id) => change.all || change.keys.includes(id);
        // A new swarm or one on this page: the list; the shown swarm: its statistics.
        if (change.all || change.keys.some((k) => !shown.includes(k)) || shown.some(touches)) await loadList();
        if (view.id && touches(view.id)) await loadSwarm();
      },
    },
  };
}

run({ '': overviewPage, swarms: swarmsPage });
