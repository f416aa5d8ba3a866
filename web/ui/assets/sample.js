// Sample (/ui/samples/{id}): one compared pair. The request, then old and
// new side by side with the differing paths marked (noise greyed), and for
// each path the config line that would silence it.
import { api, chainLink, copyRuleButton, h, ms, patternOf, routeLink } from './lib.js';

export async function render(app, id) {
  const s = await api('/api/samples/' + encodeURIComponent(id));
  // The route's report says which paths are noise.
  const noise = new Set();
  try {
    const rep = await api('/api/report?route=' + encodeURIComponent(s.route));
    for (const f of rep.routes[0].fields) if (f.noise) noise.add(f.path + '\u0000' + f.kind);
  } catch { /* the pair still shows, without noise marks */ }
  const diffs = (s.differences || []).map((d) => ({ ...d, noise: noise.has(d.path + '\u0000' + d.kind) }));
  const req = s.old || s.new;
  const page = h('div', { class: 'sample-page' },
    h('div', { class: 'page-head' },
      h('p', { class: 'crumbs' }, h('a', { href: '/ui/' }, 'Routes'), ' / ', routeLink(s.route), ' / sample'),
      h('h1', {}, 'Compared pair'),
      h('p', { class: 'request-line mono' }, h('strong', {}, req.method), ' ', req.uri),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Route'), h('dd', {}, routeLink(s.route)),
        h('dt', {}, 'Tenant'), h('dd', {}, req.tenant || '–'),
        h('dt', {}, 'Served by'), h('dd', {}, s.served),
        h('dt', {}, 'Chain'), h('dd', {}, req.chain_id ? chainLink(req.chain_id) : '–'),
        h('dt', {}, 'Sample'), h('dd', { class: 'mono' }, s.id))),
    differences(diffs),
    requestBlock(req),
    h('div', { class: 'side-by-side' }, side('old', s.old, diffs), side('new', s.new, diffs)));
  app.replaceChildren(page);
}

function differences(diffs) {
  const sec = h('section', { class: 'card' }, h('h2', {}, 'Differences'));
  if (!diffs.length) {
    sec.append(h('p', { class: 'muted' }, 'None.'));
    return sec;
  }
  sec.append(h('ul', { class: 'diff-list', id: 'differences' }, diffs.map((d) => h('li', { class: d.noise ? 'noise' : 'real', 'data-path': d.path },
    h('code', {}, d.path || '(root)'), ' ', h('span', { class: 'kind' }, d.kind), d.noise ? h('span', { class: 'tag' }, 'noise') : null, ' ',
    d.kind !== 'status' ? copyRuleButton(d.path, d.kind) : null))));
  return sec;
}

function requestBlock(req) {
  const body = bodyText(req.request);
  return h('details', { class: 'card' }, h('summary', {}, 'Request headers and body'),
    headersTable(req.request.headers),
    body !== null ? h('pre', { class: 'body' }, body) : h('p', { class: 'muted' }, 'No body.'));
}

function side(name, rec, diffs) {
  if (!rec) return h('section', { class: 'card side ' + name }, h('h2', {}, name), h('p', { class: 'muted' }, 'No answer recorded.'));
  const st = rec.response.status;
  return h('section', { class: 'card side ' + name, id: 'side-' + name },
    h('h2', {}, name, ' ', h('span', { class: 'status s' + String(st).charAt(0) }, st || rec.error || 'no answer'),
      h('span', { class: 'muted small plain' }, ' ', ms(rec.latency_ms), ' · ', rec.target)),
    h('details', {}, h('summary', {}, 'Response headers'), headersTable(rec.response.headers)),
    bodyView(rec.response, name, diffs));
}

function headersTable(headers) {
  if (!headers || !headers.length) return h('p', { class: 'muted' }, 'No headers.');
  return h('table', { class: 'grid headers' }, h('tbody', {}, headers.map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: 'mono' }, v)))));
}

export function bodyText(msg) {
  if (!msg) return null;
  if (typeof msg.body === 'string') return msg.body;
  if (msg.body_base64) return '(binary, base64) ' + msg.body_base64;
  return null;
}

// bodyView pretty-prints a JSON body line by line, each line knowing its
// path, and marks the lines of the differing paths.
function bodyView(msg, sideName, diffs) {
  const text = bodyText(msg);
  if (text === null || text === '') return h('p', { class: 'muted' }, 'Empty body.');
  let value;
  try {
    // Numbers JavaScript cannot hold exactly (64-bit IDs) keep their text.
    value = JSON.parse(text, (k, v, ctx) => (typeof v === 'number' && ctx && ctx.source && String(v) !== ctx.source && !/[.eE]/.test(ctx.source) ? new Raw(ctx.source) : v));
  } catch {
    const whole = diffs.find((d) => d.kind === 'body' || d.path === '');
    return h('pre', { class: 'body' + (whole ? (whole.noise ? ' mark-noise' : ' mark') : '') }, text);
  }
  const marks = new Map();
  for (const d of diffs) {
    // A path missing in new exists in old only, and an extra one in new
    // only; the others are on both sides.
    if (d.kind === 'missing' && sideName === 'new') continue;
    if (d.kind === 'extra' && sideName === 'old') continue;
    if (d.kind === 'status' || d.kind === 'header') continue;
    const prev = marks.get(d.path);
    marks.set(d.path, prev === 'real' || !d.noise ? 'real' : 'noise');
  }
  const pre = h('pre', { class: 'body json', 'data-side': sideName });
  jsonLines(pre, value, [], 0, '', false, marks);
  return pre;
}

// Raw is a JSON number kept as its source text.
class Raw {
  constructor(text) { this.text = text; }
}

function jsonLines(pre, v, path, depth, key, comma, marks) {
  const pat = patternOf(path);
  const m = marks.get(pat);
  const line = (...parts) => {
    const el = h('span', { class: 'line' + (m ? (m === 'real' ? ' mark' : ' mark-noise') : ''), 'data-path': pat }, '  '.repeat(depth), key ? h('span', { class: 'k' }, JSON.stringify(key) + ': ') : null, ...parts);
    pre.append(el, '\n');
    return el;
  };
  if (v instanceof Raw) {
    line(h('span', { class: 'v number' }, v.text), comma ? ',' : '');
    return;
  }
  if (v !== null && typeof v === 'object') {
    const arr = Array.isArray(v);
    const entries = arr ? v.map((x, i) => [i, x]) : Object.entries(v);
    if (!entries.length) {
      line(arr ? '[]' : '{}', comma ? ',' : '');
      return;
    }
    line(arr ? '[' : '{');
    entries.forEach(([k, x], i) => jsonLines(pre, x, [...path, k], depth + 1, arr ? '' : k, i < entries.length - 1, marks));
    const close = h('span', { class: 'line' + (m ? (m === 'real' ? ' mark' : ' mark-noise') : '') }, '  '.repeat(depth), arr ? ']' : '}', comma ? ',' : '');
    pre.append(close, '\n');
    return;
  }
  line(h('span', { class: 'v ' + (v === null ? 'null' : typeof v) }, JSON.stringify(v)), comma ? ',' : '');
}
