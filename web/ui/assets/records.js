// Records (/ui/records): recorded calls by route, tenant, status class and
// time window, newest first, a page at a time; a row opens its chain. The
// filters live in the URL, so a search can be linked.
import { api, h, ms, when } from './lib.js';

const windows = [['', 'any time'], ['5m', 'last 5 minutes'], ['15m', 'last 15 minutes'], ['1h', 'last hour'], ['6h', 'last 6 hours'], ['24h', 'last 24 hours'], ['168h', 'last 7 days']];
const classes = [['', 'any status'], ['2xx', '2xx'], ['3xx', '3xx'], ['4xx', '4xx'], ['5xx', '5xx and failed']];

export async function render(app) {
  const params = new URLSearchParams(location.search);
  const routes = await api('/api/routes').catch(() => ({ routes: [] }));
  const select = (name, options) => h('select', { name, 'aria-label': name }, options.map(([v, label]) => h('option', { value: v, selected: params.get(name) === v }, label)));
  const form = h('form', { class: 'filters', id: 'records-form', autocomplete: 'off' },
    h('label', {}, 'Route ', select('route', [['', 'any route'], ...routes.routes.map((r) => [r.name, r.name])])),
    h('label', {}, 'Tenant ', h('input', { name: 'tenant', value: params.get('tenant') || '', placeholder: 'any tenant', size: 12 })),
    h('label', {}, 'Status ', select('status', classes)),
    h('label', {}, 'Time ', select('since', windows)),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (String(v).trim()) q.set(k, String(v).trim());
    location.href = '/ui/records' + (q.toString() ? '?' + q : '');
  });
  const tbody = h('tbody', {});
  const more = h('div', { class: 'pager' });
  app.replaceChildren(
    h('div', { class: 'page-head' }, h('h1', {}, 'Recorded calls'), h('p', { class: 'muted' }, 'Newest first. A row opens its chain.')),
    form,
    h('table', { class: 'grid records', id: 'records' }, h('thead', {}, h('tr', {},
      h('th', {}, 'Time'), h('th', {}, 'Route'), h('th', {}, 'Tenant'), h('th', {}, 'Side'), h('th', {}, 'Request'),
      h('th', { class: 'num' }, 'Status'), h('th', { class: 'num' }, 'Latency'), h('th', {}, 'Chain'))), tbody),
    more);
  const q = new URLSearchParams();
  for (const k of ['route', 'tenant', 'status', 'since']) if (params.get(k)) q.set(k, params.get(k));
  q.set('limit', '50');
  await page(tbody, more, q, '');
}

async function page(tbody, more, q, cursor) {
  const qq = new URLSearchParams(q);
  if (cursor) qq.set('cursor', cursor);
  const res = await api('/api/records?' + qq);
  if (!res.records.length && !cursor) tbody.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No recorded call matches.')));
  for (const r of res.records) {
    const failed = r.error || r.response.status >= 500;
    const tr = h('tr', { class: 'clickable' + (failed ? ' failed' : '') + (r.shadow ? ' shadow' : ''), 'data-chain': r.chain_id, tabindex: '0' },
      h('td', { class: 'nowrap' }, when(r.start)),
      h('td', {}, r.route),
      h('td', {}, r.tenant || '–'),
      h('td', {}, r.side, r.shadow ? h('span', { class: 'tag' }, 'shadow') : null),
      h('td', { class: 'mono ellipsis', title: r.uri }, r.method + ' ' + r.uri),
      h('td', { class: 'num status s' + String(r.response.status).charAt(0) }, r.error || r.response.status),
      h('td', { class: 'num' }, ms(r.latency_ms)),
      h('td', {}, h('a', { href: '/ui/chains/' + r.chain_id, class: 'mono' }, r.chain_id.slice(0, 12) + '…')));
    const open = () => { location.href = '/ui/chains/' + r.chain_id; };
    tr.addEventListener('click', (ev) => { if (ev.target.tagName !== 'A') open(); });
    tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
    tbody.append(tr);
  }
  more.replaceChildren();
  if (res.next) {
    more.append(h('button', { type: 'button', id: 'older', onclick: () => page(tbody, more, q, res.next) }, 'Older calls'));
  }
}
