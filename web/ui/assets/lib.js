// Shared helpers of the dashboard's pages: DOM building (text only, never
// HTML from data), the admin API client with its bearer token, number
// formats, dialogs and charts (uPlot, loaded as a classic script before
// the modules run).

const TOKEN_KEY = 'cutover.token';

// h builds an element: h('a', {href, class}, child, …). Strings become
// text nodes; null and false children are skipped; arrays are flattened.
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// set replaces el's children, skipping null and false.
export function set(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let tokenPrompt = null;

// api calls the admin API with the session's token and returns the JSON
// answer; a 401 asks for the token once and tries again.
export async function api(path, method = 'GET') {
  for (;;) {
    const headers = { Accept: 'application/json' };
    const tok = sessionStorage.getItem(TOKEN_KEY);
    if (tok) headers.Authorization = 'Bearer ' + tok;
    const res = await fetch(path, { method, headers, cache: 'no-store', credentials: 'omit' });
    let body = null;
    try { body = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401) {
      await askToken(tok ? 'That token was not accepted.' : '');
      continue;
    }
    if (!res.ok) throw new ApiError(res.status, (body && body.error) || res.status + ' ' + res.statusText, body);
    return body;
  }
}

function askToken(why) {
  if (tokenPrompt) return tokenPrompt;
  const dlg = document.getElementById('token-dialog');
  const input = document.getElementById('token-input');
  document.getElementById('token-error').textContent = why;
  tokenPrompt = new Promise((resolve) => {
    dlg.addEventListener('close', function done() {
      dlg.removeEventListener('close', done);
      const v = input.value.trim();
      if (v) sessionStorage.setItem(TOKEN_KEY, v);
      input.value = '';
      tokenPrompt = null;
      resolve();
    });
  });
  dlg.showModal();
  input.focus();
  return tokenPrompt;
}

// access returns what the session's token allows: "full" or "read".
let accessInfo = null;
export async function access() {
  if (!accessInfo) accessInfo = await api('/api/access');
  return accessInfo;
}

// confirmAction asks before an action; it resolves true when confirmed.
export function confirmAction(title, text, okLabel) {
  const dlg = document.getElementById('confirm-dialog');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel || 'Confirm';
  return new Promise((resolve) => {
    dlg.addEventListener('close', function done() {
      dlg.removeEventListener('close', done);
      resolve(dlg.returnValue === 'ok');
    });
    dlg.returnValue = '';
    dlg.showModal();
  });
}

let toastTimer = 0;
export function toast(msg, bad) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = 'toast show' + (bad ? ' bad' : '');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.className = 'toast'; }, 4000);
}

// copyText puts s on the clipboard.
export async function copyText(s) {
  try {
    await navigator.clipboard.writeText(s);
    return true;
  } catch {
    const ta = h('textarea', { class: 'offscreen' }, s);
    document.body.append(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

// rate prints a share as diff.FormatRate does: "0.31%", "<0.01%", "0%".
export function rate(r) {
  if (!r || Number.isNaN(r)) return '0%';
  const p = Math.round(r * 10000) / 100;
  return p === 0 ? '<0.01%' : p + '%';
}

// activeSpan returns the index of the first point worth charting: lead
// points before the first with any figure, leaving at least minPoints.
export function activeSpan(points, minPoints = 12, lead = 6) {
  let first = points.findIndex((p) => p.compared > 0 || p.requests > 0 || p.noise_pairs > 0);
  if (first < 0) first = points.length;
  return Math.max(0, Math.min(first - lead, points.length - minPoints));
}

export function ratio(n, d) { return d > 0 ? n / d : 0; }

export function ms(v) {
  if (v === null || v === undefined) return '–';
  return (Math.round(v * 100) / 100) + ' ms';
}

export function num(n) { return (n || 0).toLocaleString('en-US'); }

export function when(t) {
  if (!t || t.startsWith('0001-')) return '–';
  const d = new Date(t);
  return d.toLocaleString('en-GB', { hour12: false, year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function ago(t) {
  if (!t || t.startsWith('0001-')) return '';
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 60) return Math.round(s) + 's ago';
  if (s < 3600) return Math.round(s / 60) + 'm ago';
  if (s < 86400) return (Math.round(s / 360) / 10) + 'h ago';
  return Math.round(s / 8640) / 10 + 'd ago';
}

// Rollout states, worst first: the overview sorts by this.
export const stateRank = { rolled_back: 0, holding: 1, paused: 2, pending: 3, progressing: 3, promoted: 5 };

export function stateBadge(state) {
  if (!state) return h('span', { class: 'badge none' }, 'no rollout');
  return h('span', { class: 'badge ' + state, 'data-state': state }, state.replace('_', ' '));
}

export function checkBadge(status) {
  return h('span', { class: 'badge check-' + status }, status);
}

export function routeLink(name) {
  return h('a', { href: '/ui/routes/' + encodeURIComponent(name) }, name);
}

export function chainLink(id, label) {
  return h('a', { href: '/ui/chains/' + encodeURIComponent(id), class: 'mono' }, label || id);
}

// patternOf turns a concrete JSON path (["items", 3, "price"]) into the
// diff report's form, indices as # ("items.#.price").
export function patternOf(parts) {
  return parts.map((p) => (typeof p === 'number' ? '#' : p)).join('.');
}

// ruleFor is the config line that silences a path: unordered for an
// order difference, ignore for anything else.
export function ruleFor(path, kind) {
  const p = JSON.stringify(path || '');
  return kind === 'order' ? `diff: { unordered: [${p}] }` : `diff: { ignore: [${p}] }`;
}

export function copyRuleButton(path, kind) {
  const rule = ruleFor(path, kind);
  return h('button', {
    class: 'small copy-rule', type: 'button', title: rule, 'data-rule': rule,
    onclick: async () => {
      toast((await copyText(rule)) ? 'Copied: ' + rule : 'Could not copy; the rule is: ' + rule);
    },
  }, 'copy rule');
}

// ---- charts (uPlot) ----

const palette = { old: '#6b7280', new: '#2563eb', bad: '#dc2626', limit: '#dc2626', band: 'rgba(37,99,235,0.15)', ok: '#16a34a', pct: '#9333ea' };
export { palette };

function chartWidth(el) {
  return Math.max(240, el.clientWidth || el.parentElement.clientWidth || 600);
}

// chart draws a time chart into el: xs in seconds, series [{label,
// color, values, dash, width, fmt}], with optional band (indices of two
// series filled between) and y formatter.
export function chart(el, { xs, series, height = 180, yFmt = (v) => v, band, yRange }) {
  if (!window.uPlot) {
    el.append(h('p', { class: 'muted' }, 'charts unavailable'));
    return null;
  }
  // Sparse data (a short step, a burst of traffic) shows as points: a
  // lone value has no line to draw.
  const sparse = (values) => values.filter((v) => v !== null && v !== undefined).length <= 30;
  const opts = {
    width: chartWidth(el),
    height,
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: yRange ? { range: yRange } : { auto: true } },
    axes: [
      { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e5e7eb' }, values: (u, vals) => vals.map(clock) },
      { stroke: '#6b7280', grid: { stroke: '#eef0f3' }, ticks: { stroke: '#e5e7eb' }, size: 64, values: (u, vals) => vals.map((v) => yFmt(v)) },
    ],
    series: [{}, ...series.map((s) => ({
      label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, fill: s.fill,
      spanGaps: false, points: { show: !s.flat && sparse(s.values), size: 6 }, value: (u, v) => (v === null || v === undefined ? '–' : yFmt(v)),
    }))],
  };
  if (band) opts.bands = [{ series: band, fill: palette.band }];
  const u = new window.uPlot(opts, [xs, ...series.map((s) => s.values)], el);
  return u;
}

function clock(t) {
  return t === null ? '' : new Date(t * 1000).toLocaleTimeString('en-GB', { hour12: false });
}

// sparkline draws a small line without axes.
export function sparkline(el, xs, ys, color) {
  if (!window.uPlot) return null;
  const opts = {
    width: 120, height: 28,
    legend: { show: false }, cursor: { show: false },
    scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(max, 1e-9)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: color || palette.new, width: 1.5, fill: 'rgba(37,99,235,0.08)', points: { show: ys.filter((v) => v !== null).length <= 3, size: 5 } }],
  };
  return new window.uPlot(opts, [xs, ys], el);
}

// wilson is the Wilson score interval of k events in n trials at the
// two-sided normal quantile z, as the rollout gate computes it.
export function wilson(k, n, z) {
  if (n === 0) return [0, 1];
  const p = k / n, z2 = z * z, den = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / den;
  return [Math.max(center - half, 0), Math.min(center + half, 1)];
}

// zFor is the two-sided normal quantile of a confidence level.
export function zFor(confidence) {
  // Acklam's rational approximation of the normal quantile at (1+c)/2.
  const p = (1 + confidence) / 2;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  if (p > 0.97575) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export function errorBox(err) {
  return h('div', { class: 'error-box' }, h('strong', {}, 'Could not load: '), err.message || String(err));
}

// hexLike reports whether s looks like a chain ID.
export function isChainID(s) { return /^[0-9a-fA-F]{32}$/.test(s); }
