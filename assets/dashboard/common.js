// What every dashboard's pages share: building DOM (textContent only: names from a store or a swarm are
// never parsed as HTML), the JSON API with the session's anti-CSRF header, the confirmation dialog, and
// live updates: a Server-Sent Events stream (the browser reconnects by itself, sending Last-Event-ID),
// polling every 2 s when the server refuses the stream or the browser has none.
export { formatBytes } from './chart.js';

const POLL_MS = 2000;
/** After a refused stream (too many live pages), how long the page polls before it tries again. */
const STREAM_RETRY_MS = 30_000;
let csrf = null;

export const app = document.getElementById('app');

export function h(tag, attrs = {}, ...children) {
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

export async function api(path, init = {}) {
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

export const dialog = document.getElementById('confirm');
/** Resolves true when the admin confirms `text` in the modal dialog. */
export function confirmAction(title, text, action) {
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = action;
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true }),
  );
}

export const percent = (x) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`);
export const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : '–');
export function card(label, value, id) {
  return h('div', { class: 'card' }, h('div', { class: 'value', id }, value), h('div', { class: 'label' }, label));
}

/** A table with a header row: columns as [label, numeric?]. */
export function table(columns, body, attrs = {}) {
  return h(
    'table',
    attrs,
    h('thead', {}, h('tr', {}, ...columns.map(([label, num]) => h('th', num ? { class: 'num' } : {}, label)))),
    body,
  );
}

/**
 * Runs the page the path names. A page is a function returning { load(poll), live: {topic: handler},
 * every?: {ms, run} }: load fetches everything (at start, and each poll when not live); live handlers take
 * the stream's events.
 */
export async function run(pages) {
  csrf = await api('session');
  document.getElementById('logout').addEventListener('click', async () => {
    await api('logout', { method: 'POST', body: '{}' });
    location.assign('/dashboard/login');
  });
  const path = location.pathname.replace(/^\/dashboard\/?/, '').replace(/\/$/, '');
  const name = path in pages ? path : '';
  for (const a of document.querySelectorAll('nav a'))
    if (a.dataset.page === (name || 'overview')) a.setAttribute('aria-current', 'page');
  const page = pages[name]();
  const updated = document.getElementById('updated');
  let at = null;
  const stamp = () => {
    const mode =
      { sse: 'live, ', poll: 'polling, ', reconnecting: 'reconnecting, last ' }[document.body.dataset.live] ?? '';
    updated.textContent = `${mode}updated ${at?.toLocaleTimeString()}`;
    updated.className = 'muted';
  };
  const guard = async (work) => {
    try {
      await work();
      at = new Date();
      stamp();
    } catch (err) {
      updated.textContent = `update failed: ${err.message}`;
      updated.className = 'error';
    }
  };
  await guard(() => page.load(false));
  document.body.dataset.ready = 'true';
  if (page.every) setInterval(() => !document.hidden && guard(page.every.run), page.every.ms);
  follow(page, guard, stamp);
}

function follow(page, guard, stamp) {
  const topics = Object.keys(page.live ?? {});
  let timer = null;
  const poll = () => {
    document.body.dataset.live = 'poll';
    stamp();
    if (timer !== null) return;
    timer = setInterval(() => {
      if (!document.hidden && !dialog.open) guard(() => page.load(true));
    }, POLL_MS);
  };
  const stopPolling = () => {
    clearInterval(timer);
    timer = null;
  };
  const forced = new URLSearchParams(location.search).get('live') === 'poll';
  if (topics.length === 0 || forced || typeof EventSource !== 'function') return poll();
  const connect = () => {
    const source = new EventSource(`/dashboard/api/events?topics=${topics.join(',')}`);
    for (const topic of topics) {
      source.addEventListener(topic, (event) => guard(() => page.live[topic](JSON.parse(event.data))));
    }
    source.addEventListener('open', () => {
      stopPolling();
      document.body.dataset.live = 'sse';
      stamp();
    });
    source.addEventListener('error', () => {
      // Still CONNECTING: the browser comes back by itself, with Last-Event-ID. CLOSED: refused (too many
      // live pages, or the session ended: polling then meets the 401 and goes to the login page).
      if (source.readyState !== EventSource.CLOSED) {
        document.body.dataset.live = 'reconnecting';
        stamp();
        return;
      }
      poll();
      setTimeout(connect, STREAM_RETRY_MS);
    });
  };
  connect();
}
