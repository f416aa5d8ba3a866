// Chain (/ui/chains/{id}): every recorded hop of a chain as a waterfall,
// the failed hops marked and the first failure named; a click on a hop
// shows its request and response as recorded (redacted as stored).
import { api, h, isChainID, ms, routeLink, when } from './lib.js';
import { bodyText } from './sample.js';

export async function render(app, id) {
  const open = h('form', { class: 'inline-form', id: 'chain-form', autocomplete: 'off' },
    h('input', { name: 'id', value: id, placeholder: 'chain ID (32 hex)', spellcheck: 'false', 'aria-label': 'Chain ID' }),
    h('button', { type: 'submit' }, 'Open'));
  open.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = open.elements.id.value.trim().toLowerCase();
    if (isChainID(v)) location.href = '/ui/chains/' + v;
  });
  const head = h('div', { class: 'page-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '/ui/records' }, 'Records'), ' / chain'),
    h('h1', {}, 'Chain ', h('span', { class: 'mono small-id' }, id)), open);
  app.replaceChildren(head);
  if (!isChainID(id)) {
    app.append(h('div', { class: 'error-box' }, 'A chain ID is 32 hex digits.'));
    return;
  }
  const [tree, routes] = await Promise.all([
    api('/api/chains/' + encodeURIComponent(id)),
    api('/api/routes').catch(() => ({ routes: [] })),
  ]);
  const services = new Map(routes.routes.map((r) => [r.name, r]));
  const hops = [];
  const walk = (nodes, depth, parent) => {
    for (const n of nodes) {
      const hop = { ...n, depth, parent, failed: n.status >= 500 || !!n.error };
      hops.push(hop);
      walk(n.children || [], depth + 1, hop);
    }
  };
  walk(tree.roots, 0, null);
  hops.forEach((hp, i) => { hp.index = i + 1; hp.service = serviceOf(hp, services); });
  // The first failure is the earliest failed hop none of whose own calls
  // failed: where the error began, not where it travelled.
  const failedBelow = new Set();
  for (const hp of hops) if (hp.failed) for (let p = hp.parent; p; p = p.parent) failedBelow.add(p);
  const first = hops.filter((hp) => hp.failed && !failedBelow.has(hp)).sort((a, b) => a.offset_ms - b.offset_ms)[0];

  app.append(h('p', { class: 'summary', id: 'chain-summary' },
    `${tree.calls} recorded ${tree.calls === 1 ? 'call' : 'calls'} over ${ms(tree.duration_ms)}, `,
    tree.errors ? h('strong', { class: 'bad' }, `${tree.errors} failed`) : 'none failed', '.'));
  if (first) {
    app.append(h('div', { class: 'failure', id: 'first-failure' }, h('strong', {}, 'First failure: '),
      `hop ${first.index}, ${first.service} (route ${first.route}, ${first.side} side${first.shadow ? ', shadow copy' : ''}) `,
      first.error ? `got no answer (${first.error}) after ${ms(first.latency_ms)}` : `answered ${first.status} after ${ms(first.latency_ms)}`,
      ` to ${first.method} ${first.uri}.`,
      first.parent ? ` Its caller, hop ${first.parent.index} (${first.parent.service}), ${first.parent.failed ? 'then answered ' + (first.parent.status || first.parent.error) : 'answered ' + first.parent.status} .`.replace(' .', '.') : ''));
  }
  const total = Math.max(tree.duration_ms, 0.001);
  const detail = h('section', { class: 'card hop-detail', id: 'hop-detail' }, h('p', { class: 'muted' }, 'Click a hop to see its request and response.'));
  const rows = h('div', { class: 'waterfall', id: 'waterfall', role: 'list' },
    h('div', { class: 'wf-head' }, h('span', {}, '#'), h('span', {}, 'Service'), h('span', {}, 'Route'), h('span', {}, 'Side'), h('span', {}, 'Status'), h('span', {}, 'Duration'), h('span', {}, 'Timeline')));
  for (const hp of hops) {
    const left = (hp.offset_ms / total) * 100;
    const width = Math.max((hp.latency_ms / total) * 100, 0.6);
    const row = h('div', {
      class: 'wf-row' + (hp.failed ? ' failed' : '') + (hp === first ? ' first-failure' : '') + (hp.shadow ? ' shadow' : ''),
      role: 'listitem', tabindex: '0', 'data-hop': hp.index, 'data-id': hp.id, title: hp.method + ' ' + hp.uri,
    },
    h('span', { class: 'muted' }, hp.index),
    h('span', { class: 'svc', style: `padding-left:${hp.depth * 1.1}rem` }, hp.depth ? '↳ ' : '', hp.service),
    h('span', {}, hp.route),
    h('span', {}, hp.side, hp.shadow ? h('span', { class: 'tag' }, 'shadow') : null),
    h('span', { class: 'status s' + String(hp.status).charAt(0) }, hp.error ? hp.error : hp.status),
    h('span', { class: 'num' }, ms(hp.latency_ms)),
    h('span', { class: 'track' }, h('span', { class: 'bar', style: `left:${left}%;width:${Math.min(width, 100 - left)}%` })));
    const show = () => {
      for (const r of rows.querySelectorAll('.selected')) r.classList.remove('selected');
      row.classList.add('selected');
      showHop(detail, hp);
    };
    row.addEventListener('click', show);
    row.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') show(); });
    rows.append(row);
  }
  app.append(h('section', { class: 'card' }, rows), detail);
  if (first) showHop(detail, first, rows);
}

function serviceOf(hop, services) {
  const r = services.get(hop.route);
  if (!r) return hop.target;
  return (hop.side === 'old' ? r.old : hop.side === 'new' ? r.new : r.upstream) || hop.target;
}

async function showHop(detail, hp, rows) {
  if (rows) rows.querySelector(`[data-hop="${hp.index}"]`)?.classList.add('selected');
  detail.replaceChildren(h('p', { class: 'muted' }, 'Loading hop ' + hp.index + '…'));
  try {
    const rec = await api('/api/records/' + encodeURIComponent(hp.id));
    const msg = (title, m, status) => h('div', { class: 'message' },
      h('h3', {}, title, status !== undefined ? h('span', { class: 'status s' + String(status).charAt(0) }, ' ' + (status || rec.error || 'no answer')) : null),
      m.headers && m.headers.length ? h('table', { class: 'grid headers' }, h('tbody', {}, m.headers.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, v))))) : h('p', { class: 'muted' }, 'No headers.'),
      bodyText(m) ? h('pre', { class: 'body' }, prettyBody(bodyText(m))) : h('p', { class: 'muted' }, 'No body.'),
      m.truncated ? h('p', { class: 'muted small' }, 'Truncated at record.max_body.') : null);
    detail.replaceChildren(
      h('h2', {}, 'Hop ' + hp.index + ': ', rec.method + ' ' + rec.uri),
      h('p', { class: 'muted' }, 'Route ', routeLink(rec.route), `, ${rec.side} side, ${rec.target}, tenant ${rec.tenant || '–'}, started ${when(rec.start)}, ${ms(rec.latency_ms)}.`),
      h('div', { class: 'side-by-side' }, msg('Request', rec.request), msg('Response', rec.response, rec.response.status)));
  } catch (err) {
    detail.replaceChildren(h('div', { class: 'error-box' }, 'Could not load hop ' + hp.index + ': ' + err.message));
  }
}

function prettyBody(s) {
  try {
    return JSON.stringify(JSON.parse(s), null, 2);
  } catch {
    return s;
  }
}
