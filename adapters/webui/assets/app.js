// The entgldb dashboard: one hand-written script, no build step. It holds
// no secret: the session cookie is HttpOnly, and every call goes to the
// node's API routes, which check the session's key and scopes.
'use strict';

const CSRF = { 'X-Entgldb-Csrf': '1' };
const PAGE = 50;
// Counts stop here and say "10,000+": counting a large collection whole
// reads all of it.
const COUNT_LIMIT = 10000;
// A filter slower than this (page or count) makes the page offer an index.
const SLOW_MS = 200;
// slowMs starts at SLOW_MS (a browser test lowers it to see the offer on a
// small collection); indexed holds the "collection\nfield" indexes made
// from this page, never offered again.
const state = { who: null, timers: [], feed: null, slowMs: SLOW_MS, indexed: new Set() };

// h builds an element; text goes in as text, never as HTML.
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

const main = () => document.getElementById('main');

function show(...kids) {
  const m = main();
  m.replaceChildren(...kids.flat());
}

function flash(msg, bad) {
  const f = document.getElementById('flash');
  f.textContent = msg;
  f.className = bad ? 'bad' : '';
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, bad ? 8000 : 3000);
}

// busy shows progress for anything that takes longer than a second.
let slow = 0; // calls out for longer than a second
async function busy(promise) {
  const p = document.getElementById('progress');
  let shown = false;
  const t = setTimeout(() => { shown = true; slow++; p.hidden = false; }, 1000);
  try { return await promise; } finally {
    clearTimeout(t);
    if (shown && --slow === 0) p.hidden = true;
  }
}

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

// api calls a route of the node with the session cookie; writes carry the
// CSRF header the API asks of cookie-authenticated requests.
async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({}, CSRF, extraHeaders || {});
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  if (!res.ok) {
    const err = (data && data.error) || {};
    if (res.status === 401 && path !== '/ui/session') signedOut();
    throw new ApiError(res.status, err.code || String(res.status), err.message || res.statusText);
  }
  return { data, res };
}

const enc = encodeURIComponent;
const fmtBytes = (n) => {
  if (!n) return '0 B';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + ' ' + u[i];
};
const ago = (ms) => {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return new Date(ms).toLocaleString();
};
const dur = (ms) => {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hh = Math.floor(s % 86400 / 3600), mm = Math.floor(s % 3600 / 60);
  return (d ? d + 'd ' : '') + (d || hh ? hh + 'h ' : '') + mm + 'm ' + (s % 60) + 's';
};
// A version is wall:logical:node; the node is the author.
const author = (v) => String(v || '').split(':').slice(2).join(':');
const versionTime = (v) => new Date(Number(String(v || '').split(':')[0]) || 0).toLocaleString();

function errorBox(e) { return h('p', { class: 'err', id: 'error' }, e.message || String(e)); }

// every runs fn now and every ms until the page changes.
function every(ms, fn) {
  fn();
  state.timers.push(setInterval(fn, ms));
}

function leavePage() {
  state.timers.forEach(clearInterval);
  state.timers = [];
  if (state.feed) { state.feed.close(); state.feed = null; }
}

// ---- sign in -------------------------------------------------------------

function signedOut() {
  state.who = null;
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('who').textContent = '';
  leavePage();
  const key = h('input', { id: 'login-key', type: 'password', autocomplete: 'off', placeholder: 'egk_…' });
  const msg = h('p', { class: 'err', id: 'login-error' });
  const form = h('form', { class: 'login', id: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    msg.textContent = '';
    try {
      const { data } = await api('POST', '/ui/session', { key: key.value });
      key.value = '';
      signedIn(data);
    } catch (e) { msg.textContent = e.message; }
  } },
  h('h1', { text: 'Sign in' }),
  h('p', { class: 'muted', text: 'Paste an API key (the node\'s admin key is in admin.key beside its database). The key is exchanged for a session; the page never keeps it.' }),
  key, h('button', { id: 'login-btn', type: 'submit', text: 'Sign in' }), msg);
  show(form);
  key.focus();
}

function signedIn(who) {
  state.who = who;
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('who').textContent = who.key_id + (who.admin ? ' (admin)' : ' (' + who.scopes.join(', ') + ')');
  for (const a of document.querySelectorAll('nav a.admin')) a.hidden = !who.admin;
  route();
}

async function signOut() {
  try { await api('DELETE', '/ui/session'); } catch (e) { /* signed out either way */ }
  location.hash = '#/';
  signedOut();
}

// ---- router ----------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || '') };
}

function route() {
  if (!state.who) return;
  leavePage();
  const { parts, params } = parseHash();
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('active', a.getAttribute('href') === '#/' + (parts[0] || ''));
  }
  const pages = {
    '': () => overviewPage(),
    collections: () => collectionsPage(),
    c: () => (parts.length >= 4 && parts[2] === 'd' ? documentPage(parts[1], parts.slice(3).join('/')) : documentsPage(parts[1], params)),
    changes: () => changesPage(params),
    backups: () => backupsPage(),
    keys: () => keysPage(),
    replication: () => replicationPage(),
  };
  (pages[parts[0] || ''] || (() => show(h('p', { text: 'No such page.' }))))();
}

// ---- overview --------------------------------------------------------------

function card(label, value, id, cls) {
  return h('div', { class: 'card' }, h('div', { class: 'l', text: label }), h('div', { class: 'v ' + (cls || ''), id, text: value }));
}

function chart(id, title) {
  const box = svg('svg', { class: 'chart', id, viewBox: '0 0 120 40', preserveAspectRatio: 'none' });
  box.append(svg('polyline', { points: '' }));
  return h('div', {}, h('div', { class: 'l', id: id + '-label', text: title }), box);
}

function drawChart(id, values, title, unit) {
  const el = document.getElementById(id);
  if (!el) return;
  const max = Math.max(1, ...values);
  const step = 120 / Math.max(1, values.length - 1);
  el.firstChild.setAttribute('points', values.map((v, i) => (i * step).toFixed(1) + ',' + (40 - v / max * 36 - 2).toFixed(1)).join(' '));
  document.getElementById(id + '-label').textContent = title + ': ' + (values[values.length - 1] || 0).toFixed(1) + ' ' + unit + ' (max ' + max.toFixed(1) + ')';
}

function overviewPage() {
  if (!state.who.admin) {
    show(h('h1', { text: 'Overview' }), h('p', { class: 'muted', text: 'The node\'s status needs an admin key; this key may browse its collections.' }));
    return;
  }
  const rates = { w: [], a: [], last: null };
  // The matrix counts entries per peer and author: asked for every fifth poll.
  let tick = 0, repl = null;
  show(h('h1', { text: 'Overview' }),
    h('div', { class: 'cards' },
      card('Node', '…', 'ov-node'), card('Uptime', '…', 'ov-uptime'), card('Health', '…', 'ov-health'),
      card('Offline queue', '…', 'ov-queue'), card('Cache hit rate', '…', 'ov-cache'), card('Disk', '…', 'ov-disk'),
      card('Oplog entries', '…', 'ov-oplog'), card('Last sync', '…', 'ov-lastsync')),
    h('div', { id: 'ov-problems' }),
    h('h2', { text: 'Rates' }),
    h('div', { class: 'charts' }, chart('chart-writes', 'Local writes/s'), chart('chart-sync', 'Synced changes/s')),
    h('h2', { text: 'Peers' }),
    h('table', { id: 'peers' }, h('thead', {}, h('tr', {}, ['Peer', 'Address', 'State', 'Last seen', 'Last sync', 'Behind', 'Syncs ok / failed', 'Last error'].map((t) => h('th', { text: t })))), h('tbody')));
  every(2000, async () => {
    try {
      const [node, status, health, r] = await Promise.all([
        api('GET', '/v1/admin/node'), api('GET', '/v1/status'),
        fetch('/healthz', { cache: 'no-store' }).then((res) => res.json()),
        tick++ % 5 === 0 || !repl ? api('GET', '/v1/admin/replication').catch(() => ({ data: null })) : { data: repl },
      ]);
      repl = r.data;
      renderOverview(node.data, status.data, health, repl, rates);
    } catch (e) { flash(e.message, true); }
  });
}

function renderOverview(node, st, health, repl, rates) {
  const set = (id, v, cls) => { const el = document.getElementById(id); if (el) { el.textContent = v; if (cls !== undefined) el.className = 'v ' + cls; } };
  set('ov-node', node.node_id);
  set('ov-uptime', dur(node.uptime_ms));
  set('ov-health', health.is_healthy ? 'healthy' : 'unhealthy', health.is_healthy ? 'ok' : 'bad');
  set('ov-queue', String(st.offline_queue_length));
  set('ov-cache', (st.cache.hit_rate * 100).toFixed(1) + ' %');
  set('ov-disk', fmtBytes(st.storage.disk_bytes));
  set('ov-oplog', String(st.storage.oplog_entries));
  set('ov-lastsync', ago(st.last_sync));
  const problems = document.getElementById('ov-problems');
  if (problems) {
    const errs = health.errors || [], warns = health.warnings || [];
    problems.replaceChildren(...(errs.length || warns.length ? [h('h2', { text: 'Health: errors and warnings' }),
      ...errs.map((e) => h('p', { class: 'err health-error', text: e })),
      ...warns.map((e) => h('p', { class: 'muted', text: '⚠ ' + e }))] : []));
  }
  const now = Date.now();
  if (rates.last) {
    const dt = Math.max(0.001, (now - rates.last.t) / 1000);
    rates.w.push(Math.max(0, node.documents_written - rates.last.w) / dt);
    rates.a.push(Math.max(0, node.documents_applied - rates.last.a) / dt);
    if (rates.w.length > 60) { rates.w.shift(); rates.a.shift(); }
    drawChart('chart-writes', rates.w, 'Local writes/s', '/s');
    drawChart('chart-sync', rates.a, 'Synced changes/s', '/s');
  }
  rates.last = { t: now, w: node.documents_written, a: node.documents_applied };
  const rows = {};
  for (const r of (repl && repl.replicas) || []) rows[r.node_id] = r;
  const body = document.querySelector('#peers tbody');
  if (!body) return;
  body.replaceChildren(...st.peers.map((p) => {
    const r = rows[p.node_id];
    const behind = r ? Object.values(r.held).reduce((n, c) => n + (c.behind || 0), 0) : null;
    return h('tr', { 'data-peer': p.node_id || p.address, class: p.connected ? 'up' : 'down' },
      h('td', { text: p.node_id || '(unnamed)' }), h('td', { text: p.address }),
      h('td', {}, h('span', { class: 'badge ' + (p.connected ? 'ok' : 'bad'), text: p.connected ? 'connected' : (p.unreachable ? 'unreachable' : 'disconnected') })),
      h('td', { text: ago(p.last_seen) }), h('td', { text: r ? ago(r.last_heard) : '—' }),
      h('td', { text: behind === null ? '—' : behind + ' entries' }),
      h('td', { text: p.successful_syncs + ' / ' + p.failed_syncs }), h('td', { class: 'muted', text: p.last_error || '' }));
  }));
}

// ---- collections and documents ---------------------------------------------

async function collectionsPage() {
  show(h('h1', { text: 'Collections' }), h('p', { class: 'muted', text: 'Loading…' }));
  try {
    const { data } = await busy(api('GET', '/v1/collections'));
    const rows = data.collections.map((c) => h('tr', { class: 'link', 'data-collection': c, onclick: () => { location.hash = '#/c/' + enc(c); } },
      h('td', {}, h('a', { href: '#/c/' + enc(c), text: c })), h('td', { class: 'count', text: '…' })));
    show(h('h1', { text: 'Collections' }), data.collections.length ? h('table', { id: 'collections' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Collection' }), h('th', { text: 'Documents' }))), h('tbody', {}, rows))
      : h('p', { class: 'muted', text: 'No collection holds a document yet (or this key may read none).' }));
    data.collections.forEach(async (c, i) => {
      try { rows[i].lastChild.textContent = fmtCount((await api('GET', countPath(c, ''))).data); } catch (e) { rows[i].lastChild.textContent = '?'; }
    });
  } catch (e) { show(h('h1', { text: 'Collections' }), errorBox(e)); }
}

// countPath asks for a count that stops past COUNT_LIMIT; fmtCount shows
// it, with a "+" when more match.
const countPath = (c, where) => '/v1/collections/' + enc(c) + '/count?limit=' + COUNT_LIMIT + (where ? '&where=' + enc(where) : '');
const fmtCount = (d) => d.count.toLocaleString('en-US') + (d.more ? '+' : '');

// indexOffer offers an admin an index on the top-level fields a slow
// filter names: with one, the filter reads only its candidates.
function indexOffer(c, where, ms) {
  let fields = [];
  try { fields = Object.keys(JSON.parse(where)).filter((f) => /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(f) && !state.indexed.has(c + '\n' + f)); } catch (e) { /* the API said what is wrong */ }
  if (!fields.length) return null;
  return h('p', { class: 'muted', id: 'index-offer' }, 'This filter took ' + Math.round(ms) + ' ms: it read documents no index narrowed. Create an index on ',
    fields.map((f) => h('button', { class: 'plain', 'data-index': f, text: f, onclick: async (ev) => {
      ev.currentTarget.disabled = true;
      try { await busy(api('POST', '/v1/collections/' + enc(c) + '/indexes', { path: f })); state.indexed.add(c + '\n' + f); flash('Indexed ' + f); route(); } catch (e) { flash(e.message, true); }
    } })), ' (it covers every collection and costs each later write a little).');
}

function docsHash(c, p) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(p)) if (v) q.set(k, v);
  const s = q.toString();
  return '#/c/' + enc(c) + (s ? '?' + s : '');
}

async function documentsPage(c, params) {
  const p = { where: params.get('where') || '', order: params.get('order') || '', desc: params.get('desc') || '', skip: params.get('skip') || '' };
  const where = h('input', { id: 'filter-where', class: 'grow', value: p.where, placeholder: '{"age":{"$gte":18}} — the API\'s filter language' });
  const order = h('input', { id: 'filter-order', value: p.order, placeholder: 'sort by field (e.g. name)' });
  const desc = h('select', { id: 'filter-desc' }, h('option', { value: '', text: 'ascending' }), h('option', { value: '1', text: 'descending', selected: p.desc ? true : null }));
  const apply = (ev) => { ev.preventDefault(); location.hash = docsHash(c, { where: where.value.trim(), order: order.value.trim(), desc: desc.value }); };
  const status = h('p', { class: 'muted', id: 'docs-status', text: 'Loading…' });
  const newKey = h('input', { id: 'new-key', placeholder: 'new document key' });
  show(h('h1', {}, h('a', { href: '#/collections', text: 'Collections' }), ' / ', c),
    h('form', { class: 'row', onsubmit: apply }, where, order, desc, h('button', { id: 'filter-apply', type: 'submit', text: 'Apply' }),
      h('button', { type: 'button', class: 'plain', text: 'Clear', onclick: () => { location.hash = docsHash(c, {}); } })),
    status, h('div', { id: 'docs' }),
    h('form', { class: 'row', onsubmit: (ev) => { ev.preventDefault(); if (newKey.value) location.hash = '#/c/' + enc(c) + '/d/' + enc(newKey.value) + '?new=1'; } },
      newKey, h('button', { type: 'submit', class: 'plain', text: 'New document' })));
  const skip = Number(p.skip) || 0;
  const q = new URLSearchParams({ take: PAGE, skip });
  if (p.where) q.set('where', p.where);
  if (p.order) { q.set('order_by', p.order); if (p.desc) q.set('desc', 'true'); }
  const t0 = performance.now();
  try {
    // The page first; the count (a scan when filtered) fills in after, so
    // a large collection does not hold the page back.
    const page = await busy(api('GET', '/v1/collections/' + enc(c) + '/docs?' + q));
    const docs = page.data.documents;
    const fields = [];
    for (const d of docs) for (const k of Object.keys(d.data && typeof d.data === 'object' ? d.data : {})) if (!fields.includes(k) && fields.length < 6) fields.push(k);
    const sortBy = (f) => () => { location.hash = docsHash(c, { where: p.where, order: f, desc: p.order === f && !p.desc ? '1' : '' }); };
    const arrow = (f) => (p.order === f ? (p.desc ? ' ▼' : ' ▲') : '');
    const cell = (v) => (v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
    const took = performance.now() - t0;
    const shown = 'showing ' + (docs.length ? (skip + 1) + '–' + (skip + docs.length) : 'none') + ' (' + Math.round(took) + ' ms)';
    status.textContent = 'counting…; ' + shown;
    document.getElementById('docs').replaceChildren(
      h('table', { id: 'documents' },
        h('thead', {}, h('tr', {}, h('th', { text: 'Key' }), fields.map((f) => h('th', { class: 'sort', 'data-field': f, onclick: sortBy(f), text: f + arrow(f) })), h('th', { text: 'Version' }))),
        h('tbody', {}, docs.map((d) => h('tr', { class: 'link', 'data-key': d.key, onclick: () => { location.hash = '#/c/' + enc(c) + '/d/' + enc(d.key); } },
          h('td', { text: d.key }), fields.map((f) => h('td', { class: 'data', text: cell(d.data && d.data[f]) })), h('td', { class: 'muted', text: author(d.version) }))))),
      h('div', { class: 'row' },
        h('button', { class: 'plain', id: 'page-prev', disabled: skip === 0, onclick: () => { location.hash = docsHash(c, Object.assign({}, p, { skip: String(Math.max(0, skip - PAGE)) })); }, text: '← Previous' }),
        h('button', { class: 'plain', id: 'page-next', disabled: !page.data.more, onclick: () => { location.hash = docsHash(c, Object.assign({}, p, { skip: String(page.data.next_skip) })); }, text: 'Next →' })));
    // A last page says how many match: no second scan to count them.
    const known = !page.data.more && (docs.length > 0 || skip === 0);
    const t1 = performance.now();
    const count = known ? { data: { count: skip + docs.length } } : await busy(api('GET', countPath(c, p.where)));
    status.textContent = fmtCount(count.data) + ' documents' + (p.where ? ' match' : '') + '; ' + shown;
    const slowest = Math.max(took, performance.now() - t1);
    if (p.where && slowest > state.slowMs && state.who.admin) {
      const offer = indexOffer(c, p.where, slowest);
      if (offer) status.after(offer);
    }
  } catch (e) { status.replaceWith(errorBox(e)); }
}

async function documentPage(c, key) {
  const isNew = parseHash().params.get('new') === '1';
  const title = h('h1', {}, h('a', { href: '#/collections', text: 'Collections' }), ' / ', h('a', { href: '#/c/' + enc(c), text: c }), ' / ', key);
  show(title, h('p', { class: 'muted', text: 'Loading…' }));
  let doc = null, version = '';
  if (!isNew) {
    try {
      const { data, res } = await busy(api('GET', '/v1/collections/' + enc(c) + '/docs/' + enc(key)));
      doc = data;
      version = (res.headers.get('ETag') || '').replace(/^W\//, '').replace(/"/g, '');
    } catch (e) { show(title, errorBox(e)); return; }
  }
  const text = JSON.stringify(doc || {}, null, 2);
  const editor = h('textarea', { id: 'doc-editor', spellcheck: 'false' });
  editor.value = text;
  const problem = h('p', { class: 'err', id: 'doc-problem' });
  const check = () => {
    try {
      const v = JSON.parse(editor.value);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('a document is a JSON object');
      problem.textContent = '';
      return v;
    } catch (e) { problem.textContent = 'Not valid: ' + e.message; return null; }
  };
  editor.addEventListener('input', check);
  const save = async () => {
    const v = check();
    if (!v) return;
    try {
      const hdr = version ? { 'If-Match': '"' + version + '"' } : { 'If-None-Match': '*' };
      await busy(api('PUT', '/v1/collections/' + enc(c) + '/docs/' + enc(key), v, hdr));
      flash('Saved');
      location.hash = '#/c/' + enc(c) + '/d/' + enc(key);
      if (!isNew) documentPage(c, key);
    } catch (e) { problem.textContent = e.status === 412 ? 'Someone changed this document meanwhile: reload to see their version. (' + e.message + ')' : e.message; }
  };
  const confirmBox = h('div', { class: 'confirm', id: 'confirm', hidden: true },
    'Delete ' + c + '/' + key + '? Peers will delete it too. ',
    h('button', { class: 'danger', id: 'confirm-yes', text: 'Delete', onclick: async () => {
      try {
        await busy(api('DELETE', '/v1/collections/' + enc(c) + '/docs/' + enc(key)));
        flash('Deleted ' + key);
        location.hash = '#/c/' + enc(c);
      } catch (e) { problem.textContent = e.message; }
    } }),
    ' ', h('button', { class: 'plain', id: 'confirm-no', text: 'Cancel', onclick: () => { confirmBox.hidden = true; } }));
  const view = h('pre', { id: 'doc-json', text: text });
  const edit = h('div', { id: 'doc-edit-box', hidden: !isNew }, editor, problem,
    h('div', { class: 'row' }, h('button', { id: 'doc-save', text: 'Save', onclick: save }),
      !isNew && h('button', { class: 'plain', text: 'Cancel', onclick: () => { edit.hidden = true; view.hidden = false; } })));
  if (isNew) view.hidden = true;
  const history = h('div', { id: 'history' });
  show(title,
    !isNew && h('p', {}, 'Version ', h('code', { id: 'doc-version', text: version }), ' by ', h('b', { id: 'doc-author', text: author(version) }), ' at ' + versionTime(version)),
    !isNew && h('div', { class: 'row' },
      h('button', { id: 'doc-edit', text: 'Edit', onclick: () => { edit.hidden = false; view.hidden = true; editor.focus(); } }),
      h('button', { class: 'danger', id: 'doc-delete', text: 'Delete…', onclick: () => { confirmBox.hidden = false; } })),
    confirmBox, view, edit, !isNew && h('h2', { text: 'Recent history (oplog)' }), history);
  if (isNew) return;
  try {
    const { data } = await api('GET', '/v1/collections/' + enc(c) + '/docs/' + enc(key) + '/history');
    history.replaceChildren(data.entries.length ? h('table', {},
      h('thead', {}, h('tr', {}, ['Seq', 'Op', 'Version', 'Author', 'Hash', 'Data'].map((t) => h('th', { text: t })))),
      h('tbody', {}, data.entries.map((e) => h('tr', {}, h('td', { text: e.seq }), h('td', { text: e.op }), h('td', { text: e.version }),
        h('td', { text: e.author }), h('td', { class: 'muted', text: e.hash.slice(0, 12) + '…' }),
        h('td', { class: 'data', text: e.data === undefined ? '' : JSON.stringify(e.data) })))))
      : h('p', { class: 'muted', text: 'The oplog holds no entry of this document any more (compacted).' }));
  } catch (e) { history.replaceChildren(h('p', { class: 'muted', text: 'History: ' + e.message })); }
}

// ---- change feed -----------------------------------------------------------

function changesPage(params) {
  const filter = h('input', { id: 'feed-filter', class: 'grow', value: params.get('filter') || '', placeholder: 'show only changes whose collection/key contains…' });
  const list = h('ul', { class: 'feed', id: 'feed' });
  const state2 = h('span', { class: 'badge', id: 'feed-state', text: 'connecting' });
  const seen = [];
  const matches = (ev) => { const f = filter.value.trim(); return !f || (ev.collection + '/' + ev.key).includes(f); };
  const line = (ev) => h('li', { 'data-key': ev.key, 'data-collection': ev.collection },
    new Date().toLocaleTimeString() + '  ' + ev.op.padEnd(6) + ' ' + ev.collection + '/' + ev.key + '  ' + (ev.remote ? 'remote ' : 'local  ') + ev.version + (ev.data ? '  ' + JSON.stringify(ev.data).slice(0, 160) : ''));
  const redraw = () => list.replaceChildren(...seen.filter(matches).map(line));
  filter.addEventListener('input', redraw);
  show(h('h1', { text: 'Change feed' }), h('div', { class: 'row' }, filter, state2, h('button', { class: 'plain', text: 'Clear', onclick: () => { seen.length = 0; redraw(); } })), list);
  const es = new EventSource('/v1/changes');
  state.feed = es;
  es.onopen = () => { state2.textContent = 'live'; state2.className = 'badge ok'; };
  es.onerror = () => { state2.textContent = 'reconnecting'; state2.className = 'badge bad'; };
  es.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    seen.unshift(ev);
    if (seen.length > 500) seen.pop();
    if (matches(ev)) list.prepend(line(ev));
    while (list.childElementCount > 500) list.lastChild.remove();
  };
  es.addEventListener('error', (m) => { if (m.data) flash(JSON.parse(m.data).error.message, true); });
}

// ---- backups ---------------------------------------------------------------

async function backupsPage() {
  const list = h('div', { id: 'backups' }, h('p', { class: 'muted', text: 'Loading…' }));
  const take = h('button', { id: 'backup-take', text: 'Take a backup now', onclick: async () => {
    take.disabled = true;
    try {
      const { data } = await busy(api('POST', '/v1/admin/backup', {}));
      flash('Backup written: ' + data.path.split(/[\\/]/).pop() + ' (' + fmtBytes(data.bytes) + ')');
      load();
    } catch (e) { flash(e.message, true); } finally { take.disabled = false; }
  } });
  show(h('h1', { text: 'Backups' }), h('div', { class: 'row' }, take), list);
  async function load() {
    try {
      const { data } = await api('GET', '/v1/admin/backups');
      list.replaceChildren(data.backups.length ? h('table', { id: 'backup-list' },
        h('thead', {}, h('tr', {}, ['File', 'Kind', 'Size', 'Made', ''].map((t) => h('th', { text: t })))),
        h('tbody', {}, data.backups.map((b) => h('tr', { 'data-name': b.name },
          h('td', { text: b.name }), h('td', { text: b.kind }), h('td', { text: fmtBytes(b.bytes) }), h('td', { text: ago(b.modified) }),
          h('td', {}, h('a', { class: 'download', href: '/v1/admin/backups/' + enc(b.kind) + '/' + enc(b.name), download: b.name, text: 'Download' }))))))
        : h('p', { class: 'muted', text: 'No backup yet.' }));
    } catch (e) { list.replaceChildren(errorBox(e)); }
  }
  load();
}

// ---- keys ------------------------------------------------------------------

async function keysPage() {
  const name = h('input', { id: 'key-name', placeholder: 'name (e.g. reporting)' });
  const scopes = h('input', { id: 'key-scopes', class: 'grow', placeholder: 'scopes, comma separated: users:rw, orders:r, *:r, metrics, admin' });
  const made = h('div', { id: 'key-made' });
  const list = h('div', { id: 'keys' });
  show(h('h1', { text: 'API keys' }),
    h('form', { class: 'row', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const { data } = await api('POST', '/v1/admin/keys', { name: name.value, scopes: scopes.value.split(',').map((s) => s.trim()).filter(Boolean) });
        made.replaceChildren(h('p', {}, 'Key ' + data.id + ' made. Copy it now: it is shown only once.'), h('div', { class: 'key', id: 'key-secret', text: data.key }));
        name.value = ''; scopes.value = '';
        load();
      } catch (e) { made.replaceChildren(errorBox(e)); }
    } }, name, scopes, h('button', { id: 'key-create', type: 'submit', text: 'Create key' })), made, list);
  async function load() {
    try {
      const { data } = await api('GET', '/v1/admin/keys');
      list.replaceChildren(h('table', { id: 'key-list' },
        h('thead', {}, h('tr', {}, ['Id', 'Name', 'Scopes', 'Created', 'Last used', ''].map((t) => h('th', { text: t })))),
        h('tbody', {}, data.keys.map((k) => h('tr', { 'data-id': k.id },
          h('td', { text: k.id }), h('td', { text: k.name }), h('td', { text: k.scopes.join(', ') }),
          h('td', { text: new Date(k.created_at).toLocaleString() }), h('td', { text: k.last_used ? ago(Date.parse(k.last_used)) : 'never' }),
          h('td', {}, h('button', { class: 'danger', text: 'Revoke…', onclick: async (ev) => {
            // Two clicks: the first asks, the second revokes.
            const b = ev.currentTarget;
            if (!b.dataset.armed) { b.dataset.armed = '1'; b.textContent = 'Revoke ' + k.name + ': sure?'; return; }
            try { await api('DELETE', '/v1/admin/keys/' + enc(k.id)); flash('Revoked ' + k.id); load(); } catch (e) { flash(e.message, true); }
          } })))))));
    } catch (e) { list.replaceChildren(errorBox(e)); }
  }
  load();
}

// ---- replication and chains ------------------------------------------------

async function replicationPage() {
  const matrix = h('div', { id: 'matrix' }, h('p', { class: 'muted', text: 'Loading…' }));
  const chains = h('div', { id: 'chains' });
  const check = h('button', { id: 'chain-check', text: 'Verify every author\'s chain', onclick: () => verify('') });
  show(h('h1', { text: 'Replication' }),
    h('p', { class: 'muted', text: 'Which node holds how much of which author\'s history, from the vector clocks this node knows (its own, and each peer\'s as of its last session). A cell counts the author\'s entries this node holds that the replica lacks.' }),
    matrix, h('h2', { text: 'Hash chains' }),
    h('p', { class: 'muted', text: 'Each author\'s entries are linked by hashes; verifying reads them all and says where a chain is broken. Gaps are history this node does not hold (compacted, pruned, or brought by a snapshot).' }),
    h('div', { class: 'row' }, check), chains);
  async function verify(who) {
    check.disabled = true;
    try {
      const { data } = await busy(api('GET', '/v1/admin/chains' + (who ? '?author=' + enc(who) : '')));
      chains.replaceChildren(h('table', { id: 'chain-list' },
        h('thead', {}, h('tr', {}, ['Author', 'Entries', 'Gaps', 'Head', 'Result'].map((t) => h('th', { text: t })))),
        h('tbody', {}, data.chains.map((c) => h('tr', { 'data-author': c.author, class: c.intact ? 'intact' : 'broken' },
          h('td', { text: c.author }), h('td', { text: c.entries }), h('td', { text: c.gaps }), h('td', { class: 'muted', text: (c.head || '').slice(0, 12) }),
          h('td', { class: c.intact ? 'ok' : 'bad', text: c.intact ? 'intact' : 'broken at ' + c.break.version + ' (' + c.break.collection + '/' + c.break.key + '): ' + c.break.reason }))))));
    } catch (e) { chains.replaceChildren(errorBox(e)); } finally { check.disabled = false; }
  }
  try {
    const { data } = await busy(api('GET', '/v1/admin/replication'));
    matrix.replaceChildren(h('table', { class: 'matrix', id: 'replication' },
      h('thead', {}, h('tr', {}, h('th', { text: 'Replica \\ author' }), data.authors.map((a) => h('th', {}, h('a', { href: '#/replication', text: a, onclick: (ev) => { ev.preventDefault(); verify(a); } }))))),
      h('tbody', {}, data.replicas.map((r) => h('tr', { 'data-replica': r.node_id },
        h('th', { text: r.node_id + (r.self ? ' (this node)' : '') + (r.last_heard ? ' · ' + ago(r.last_heard) : '') }),
        data.authors.map((a) => {
          const c = r.held[a] || { behind: 0, entries: 0 };
          const mine = (data.replicas[0].held[a] || { entries: 0 }).entries;
          const cls = !c.version ? 'none' : c.behind ? 'part' : 'full';
          const pct = mine ? ' (' + Math.floor(100 * c.entries / mine) + ' %)' : '';
          return h('td', { class: cls, title: (c.version || 'nothing held') + (c.behind ? ' — lacks ' + c.behind + ' entries' : ''),
            text: !c.version && !c.entries ? '—' : r.self ? c.entries + ' entries' : c.entries + ' / ' + mine + pct + (c.behind ? ', ' + c.behind + ' behind' : '') });
        }))))));
  } catch (e) { matrix.replaceChildren(errorBox(e)); }
}

// ---- start -----------------------------------------------------------------

window.addEventListener('hashchange', route);
document.getElementById('signout').addEventListener('click', signOut);
api('GET', '/ui/session').then(({ data }) => signedIn(data), () => signedOut());
