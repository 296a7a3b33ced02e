// What the agent's and the controller's pages share: the object list filtered, sorted and paged on the
// server (the view kept in the URL), ingest a URL, and purging an object or some of its pieces, each
// after a confirmation (each page draws its own pictures of the selected object); the overview's rate
// chart; the peers page.
import { drawRateChart } from './chart.js';
import { api, app, confirmAction, formatBytes, h, table, time } from './common.js';
import { COLOURS, pieceAt } from './piecemap.js';

// Objects

export function objectList(options) {
  let refresh = async () => {};
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
        if (!url.value || !(await confirmAction('Ingest a URL', `Fetch ${url.value}? ${options.ingestHint}`, 'Ingest')))
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
    h('h1', {}, options.title),
    h('p', { class: 'muted' }, options.intro),
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
  let extraRefresh = async () => {};
  /** Shows an object: the page's own pictures (options.detail), then the purge controls. */
  function showObject(id) {
    shownId = id;
    const own = h('div', {});
    const shown = options.detail(own, id);
    let map = null;
    const controls = purgeControls(
      id,
      () => map,
      () => refresh(),
      shown.clicks,
    );
    detail.replaceChildren(own, controls);
    extraRefresh = shown.extra ?? (async () => {});
    detailRefresh = async (withExtra) => {
      try {
        map = await shown.refresh(withExtra);
      } catch (err) {
        own.replaceChildren(h('h2', {}, 'Object'), h('p', { id: 'object-facts', class: 'muted' }, err.message));
        controls.remove();
        detailRefresh = async () => {};
        extraRefresh = async () => {};
      }
    };
  }

  // Polled: the list every 10 s (a sort of the whole catalog on the agent, shared by pages on the same
  // view until the catalog changes), the piece map every 2 s. Live: each when the agent says it changed.
  let polls = 0;
  let shownPage = [];
  const loadList = async () => {
    const query = new URLSearchParams({ offset: String(view.offset), limit: String(LIMIT), sort: view.sort });
    if (view.q) query.set('q', view.q);
    if (view.state) query.set('state', view.state);
    const page = await api(`objects?${query}`);
    shownPage = page.items.map((o) => o.infoHash);
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
  };
  refresh = async () => {
    await loadList();
    await detailRefresh(true);
  };
  return {
    load: async (poll) => {
      if (poll && polls++ % 5 !== 0) return detailRefresh(true);
      await refresh();
    },
    live: {
      objects: async (change) => {
        const touches = (id) => change.all || change.keys.includes(id);
        if (change.all || shownPage.some(touches)) await loadList();
        if (shownId && touches(shownId)) await detailRefresh(false);
      },
    },
    ...(options.every ? { every: { ms: options.every.ms, run: () => extraRefresh() } } : {}),
  };
}

/** The pieces field and the two purge buttons of a shown object; `clicks` is the canvas a click adds pieces from. */
function purgeControls(id, mapOf, done, clicks) {
  const pieces = h('input', {
    id: 'purge-pieces',
    placeholder: 'e.g. 0-9,20',
    'aria-label': 'Pieces to purge',
    size: 16,
  });
  const result = h('span', { id: 'purge-result', role: 'status' });
  clicks?.addEventListener('click', (event) => {
    const rect = clicks.getBoundingClientRect();
    const map = mapOf();
    const index = map ? pieceAt(clicks, event.clientX - rect.left, event.clientY - rect.top, map.pieces) : -1;
    if (index >= 0) pieces.value = pieces.value ? `${pieces.value},${index}` : String(index);
  });
  const purge = async (piecesSpec) => {
    const name = mapOf()?.name;
    const what = piecesSpec ? `pieces ${piecesSpec} of ${name}` : `the whole object ${name}`;
    if (!(await confirmAction('Purge', `Purge ${what}? Peers and trackers are told.`, 'Purge'))) return;
    try {
      const { results } = await api('purge', {
        method: 'POST',
        body: JSON.stringify({ infoHash: id, ...(piecesSpec ? { pieces: piecesSpec } : {}) }),
      });
      const r = results[0];
      result.textContent = r.error
        ? `${r.status}: ${r.error.message}`
        : `${r.status}${r.piecesRemoved === undefined ? '' : `: ${r.piecesRemoved} pieces removed`}`;
      result.className = r.error ? 'error' : 'ok';
      await done();
    } catch (err) {
      result.textContent = err.message;
      result.className = 'error';
    }
  };
  return h(
    'div',
    {},
    clicks ? h('p', { class: 'muted' }, 'Click a piece to add it to the list below.') : null,
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
  );
}

/** A tracker table's rows from a status's trackers. */
export function trackerRows(body, trackers) {
  body.replaceChildren(
    ...(trackers.length === 0
      ? [h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No trackers configured (or announces off).'))]
      : trackers.map((t) =>
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
}

// Rates

/**
 * The overview's chart of bytes per second over the last 10 minutes: `set` takes the history the overview
 * API answers with, `add` the newest point a live event carries, `draw` draws what it has.
 */
export function rateChart(sentLabel, pulledLabel) {
  const canvas = h('canvas', {
    id: 'rates',
    role: 'img',
    'aria-label': `Bytes per second ${sentLabel} and ${pulledLabel}, last 10 minutes`,
    class: 'chart',
  });
  const section = h(
    'section',
    {},
    h('h2', {}, 'Rates, last 10 minutes'),
    h(
      'div',
      { class: 'legend' },
      h('span', {}, h('span', { class: 'swatch sent' }), sentLabel),
      h('span', {}, h('span', { class: 'swatch pulled' }), pulledLabel),
    ),
    canvas,
  );
  let rates = [];
  return {
    section,
    set: (points) => {
      rates = points;
    },
    add: (point) => {
      if (point && point.at > (rates.at(-1)?.at ?? 0)) rates = [...rates, point].slice(-300);
    },
    draw: () =>
      drawRateChart(canvas, rates, [
        { key: 'sentPerSecond', colour: `rgb(${COLOURS.held})` },
        { key: 'pulledPerSecond', colour: `rgb(${COLOURS.cached})` },
      ]),
  };
}

// Peers

/** The peer wire connections: address, client, object, the peer's pieces, bytes sent and the rate. */
export function peersPage(intro) {
  const body = h('tbody', { id: 'peers' });
  app.replaceChildren(
    h('h1', {}, 'Peers'),
    h('p', { class: 'muted' }, intro),
    table([['Address'], ['Client'], ['Object'], ['Its pieces', true], ['Sent', true], ['Rate', true], ['State']], body),
  );
  const render = ({ peers }) =>
    body.replaceChildren(
      ...(peers.length === 0
        ? [h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'No peers connected.'))]
        : peers.map((p) => {
            const rate = p.sentPerSecond;
            return h(
              'tr',
              {
                'data-info-hash': p.infoHash ?? '',
                'data-rate-positive': rate !== null && rate > 0,
                'data-pieces': p.piecesHeld ?? '',
              },
              h('td', {}, h('code', {}, `${p.address}:${p.port}`)),
              h('td', {}, p.peerId ?? '–'),
              h('td', { class: 'hash' }, p.infoHash ? p.infoHash.slice(0, 12) : '–'),
              h(
                'td',
                { class: 'num' },
                p.piecesHeld === null || p.piecesHeld === undefined ? '–' : `${p.piecesHeld} of ${p.pieceCount}`,
              ),
              h('td', { class: 'num' }, formatBytes(p.uploadedBytes)),
              h('td', { class: 'num' }, rate === null ? '–' : `${formatBytes(rate)}/s`),
              h('td', {}, `${p.choked ? 'choked' : 'unchoked'}${p.interested ? ', interested' : ''}`),
            );
          })),
    );
  return { load: async () => render(await api('peers')), live: { peers: render } };
}
