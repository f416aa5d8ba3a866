// Route (/ui/routes/{route}): the rollout's steps and timeline, each gate
// over time against its limit with its confidence bound, the differing
// paths as a tree, status pairs, latency, top tenants, and the actions.
import {
  ApiError, activeSpan, api, chart, checkBadge, confirmAction, copyRuleButton, h, ms, num, palette, rate, ratio,
  stateBadge, toast, when, wilson, zFor,
} from './lib.js';

const REFRESH_MS = 5000;

// Which states allow which action (rollout.Machine): resume also applies
// to a holding step that failed, which the server checks.
const actions = [
  { name: 'pause', label: 'Pause', allowed: ['pending', 'progressing', 'holding'], text: 'The percent stays where it is and the gate stops deciding until you resume.' },
  { name: 'resume', label: 'Resume', allowed: ['paused', 'holding', 'rolled_back'], text: 'A paused rollout continues its step; a failed step restarts with fresh counts; a rolled-back rollout restarts at step 1.' },
  { name: 'promote', label: 'Promote', allowed: ['pending', 'progressing', 'holding', 'paused', 'rolled_back'], text: 'New serves 100% of the route now, skipping the remaining steps and their gates.' },
  { name: 'rollback', label: 'Roll back', allowed: ['pending', 'progressing', 'holding', 'paused', 'promoted'], text: 'New serves 0% now (listed gray tenants excepted). The rollout stops until resumed.' },
];

export async function render(app, route, acc) {
  app.replaceChildren(h('p', { class: 'muted' }, 'Loading ' + route + '…'));
  const view = { route, acc, app, charts: [] };
  await load(view);
  setInterval(() => load(view).catch(() => {}), REFRESH_MS);
}

async function load(view) {
  const q = encodeURIComponent(view.route);
  const routes = await api('/api/routes');
  const info = routes.routes.find((r) => r.name === view.route);
  if (!info) throw new ApiError(404, 'no route ' + JSON.stringify(view.route));
  const [rep, series, events] = await Promise.all([
    api('/api/report?route=' + q).then((r) => r.routes[0]).catch(() => null),
    api('/api/report/series?route=' + q + '&since=1h&step=10s').catch(() => null),
    info.rollout ? api('/api/rollouts/' + q + '/events?limit=200').then((r) => r.events).catch(() => []) : Promise.resolve([]),
  ]);
  const sig = JSON.stringify([info.rollout && [info.rollout.state, info.rollout.step, info.rollout.counts], rep && [rep.compared, rep.differing, rep.noise_pairs], events.length]);
  if (sig === view.sig) return; // nothing moved: keep the page (and any open detail) as it is
  view.sig = sig;
  for (const c of view.charts) c && c.destroy();
  view.charts = [];
  view.draws = []; // charts are drawn once the page is in place: they size to their box
  const page = h('div', { class: 'route-page' });
  view.app.replaceChildren(page);
  page.append(header(info), actionBar(view, info));
  if (info.rollout) page.append(steps(info.rollout));
  page.append(gates(view, info, rep, series));
  if (rep) page.append(fieldTree(rep), h('div', { class: 'cols' }, statusPairs(rep), latency(view, rep, series), tenants(rep)));
  else page.append(h('section', { class: 'card' }, h('h2', {}, 'Differences'), h('p', { class: 'muted' }, 'This route has no shadow block, so nothing is compared.')));
  if (info.rollout) page.append(timeline(events));
  for (const draw of view.draws) view.charts.push(draw());
}

function header(info) {
  const ro = info.rollout;
  return h('div', { class: 'page-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '/ui/' }, 'Routes'), ' / ', info.name),
    h('h1', {}, info.name, ' ', stateBadge(info.state)),
    h('p', { class: 'sides' }, info.upstream ? info.upstream : [h('span', { class: 'side-old' }, 'old ', info.old), h('span', { class: 'arrow' }, ' → '), h('span', { class: 'side-new' }, 'new ', info.new)],
      info.upstream ? null : h('span', { class: 'pct' }, ' · new serves ', h('strong', { id: 'percent' }, info.percent + '%')),
      info.gray && info.gray.cohort ? h('span', { class: 'cohort' }, ' · cohort ', h('strong', {}, info.gray.cohort),
        ro && ro.members ? ' (moves with ' + ro.members.filter((m) => m !== info.name).join(', ') + ')' : null) : null),
    ro && ro.reason && ro.reason !== ro.waiting_for ? h('p', { class: 'reason' }, h('strong', {}, 'Why: '), ro.reason) : null,
    ro && ro.waiting_for ? h('p', { class: 'waiting' }, h('strong', {}, 'Waiting for: '), ro.waiting_for) : null);
}

function actionBar(view, info) {
  const ro = info.rollout;
  if (!ro) return h('div', {});
  const result = h('span', { class: 'action-result', id: 'action-result' }, view.lastResult || '');
  const readOnly = view.acc.access === 'read';
  const bar = h('div', { class: 'actions', id: 'actions' });
  for (const a of actions) {
    const allowed = a.allowed.includes(ro.state);
    const why = readOnly ? 'The read-only token cannot act' : (allowed ? a.text : 'Not possible while the rollout is ' + ro.state.replace('_', ' '));
    bar.append(h('button', {
      type: 'button', 'data-action': a.name, class: a.name === 'rollback' ? 'danger' : null,
      disabled: readOnly || !allowed, title: why,
      onclick: async () => {
        const ok = await confirmAction(a.label + ' ' + info.name + '?', a.text + ' It is now ' + ro.state.replace('_', ' ') + ' at ' + ro.percent + '%.', a.label);
        if (!ok) return;
        try {
          const res = await api('/api/rollouts/' + encodeURIComponent(info.name) + '/' + a.name + '?reason=' + encodeURIComponent('from the dashboard'), 'POST');
          view.lastResult = a.label + ': now ' + res.rollout.state.replace('_', ' ') + ' at ' + res.rollout.percent + '%';
          toast(view.lastResult);
        } catch (err) {
          view.lastResult = a.label + ' failed: ' + err.message;
          toast(view.lastResult, true);
        }
        view.sig = '';
        await load(view);
      },
    }, a.label));
  }
  bar.append(result);
  if (readOnly) bar.append(h('span', { class: 'muted small' }, 'Read-only token: actions are disabled.'));
  return bar;
}

function steps(ro) {
  return h('div', { class: 'steps', 'aria-label': 'rollout steps' }, ro.steps.map((p, i) => {
    const n = i + 1;
    let cls = 'step';
    if (ro.state === 'promoted' || n < ro.step) cls += ' done';
    if (n === ro.step && ro.state !== 'promoted') cls += ' current ' + ro.state;
    return h('span', { class: cls, title: 'step ' + n }, p + '%');
  }));
}

// gates shows each check of the current step in words and, for the rates,
// a chart of the step so far: the rate, its confidence interval and the
// limit.
function gates(view, info, rep, series) {
  const ro = info.rollout;
  const settled = ro && ['rolled_back', 'promoted', 'paused'].includes(ro.state);
  const title = ro ? `Gate of step ${ro.step}${settled ? ', last readings (' + ro.state.replace('_', ' ') + ')' : ''}` : 'Figures over the last hour';
  const sec = h('section', { class: 'card gates' }, h('h2', {}, title));
  const all = series ? series.points : [];
  const pts = all.slice(activeSpan(all));
  if (ro) {
    const lim = ro.limits;
    sec.append(h('p', { class: 'muted' },
      `Step ${ro.step} started ${when(ro.step_started)}. It needs ${num(lim.min_samples)} compared pairs and ${lim.min_duration}; each rate must be below its limit at ${rate(lim.confidence)} confidence, or it ${lim.on_fail === 'hold' ? 'holds' : 'rolls back'} once its lower bound is above.`));
    const list = h('ul', { class: 'checks' });
    for (const c of ro.checks || []) {
      list.append(h('li', { class: 'check ' + c.status, 'data-check': c.name }, checkBadge(c.status), ' ', h('strong', {}, c.name.replace('_', ' ')), ': ', c.detail));
    }
    sec.append(list);
  }
  const grid = h('div', { class: 'charts' });
  sec.append(grid);
  if (!pts.length) return sec;
  const xs = pts.map((p) => Date.parse(p.t) / 1000);
  const started = ro ? Date.parse(ro.step_started) / 1000 : 0;
  const z = ro ? zFor(ro.limits.confidence || 0.95) : 1.96;
  // Cumulative within the step, as the gate counts (points before the
  // step began are left blank).
  const cum = (num, den) => {
    let k = 0, n = 0;
    const v = [], lo = [], hi = [];
    pts.forEach((p, i) => {
      if (ro && xs[i] + 10 < started) { v.push(null); lo.push(null); hi.push(null); return; }
      k += num(p); n += den(p);
      if (n === 0) { v.push(null); lo.push(null); hi.push(null); return; }
      const [l, u] = wilson(k, n, z);
      v.push(k / n); lo.push(l); hi.push(u);
    });
    return [v, lo, hi];
  };
  const pct = (v) => rate(v);
  if (rep) {
    const [v, lo, hi] = cum((p) => p.differing, (p) => p.compared);
    const series = [
      { label: 'diff rate', color: palette.new, values: v },
      { label: 'upper bound', color: 'rgba(37,99,235,0.5)', values: hi, width: 1 },
      { label: 'lower bound', color: 'rgba(37,99,235,0.5)', values: lo, width: 1 },
    ];
    if (ro) series.push({ label: 'limit', color: palette.limit, flat: true, dash: [6, 4], values: xs.map(() => ro.limits.max_diff_rate), width: 1.5 });
    panel(view, grid, ro ? 'Diff rate in the step' : 'Diff rate', (el) => chart(el, { xs, series, yFmt: pct, band: [2, 3] }), gateWords(ro, 'diff_rate'));
  }
  {
    const errNum = (p) => (info.upstream ? p.errors : p.new_errors);
    const errDen = (p) => (info.upstream ? p.requests : p.new_requests);
    const [v, lo, hi] = cum(errNum, errDen);
    const series = [
      { label: 'error rate', color: palette.bad, values: v },
      { label: 'upper bound', color: 'rgba(220,38,38,0.45)', values: hi, width: 1 },
      { label: 'lower bound', color: 'rgba(220,38,38,0.45)', values: lo, width: 1 },
    ];
    if (ro) series.push({ label: 'limit', color: '#111827', flat: true, dash: [6, 4], values: xs.map(() => ro.limits.max_error_rate), width: 1.5 });
    panel(view, grid, 'Error rate of answers served by ' + (info.upstream ? 'the route' : 'new') + ' (this replica)', (el) => chart(el, { xs, series, yFmt: pct, band: [2, 3] }), gateWords(ro, 'error_rate'));
  }
  if (rep) {
    const r = pts.map((p) => (p.old_p99_ms > 0 && p.compared > 0 ? p.new_p99_ms / p.old_p99_ms : null));
    const series = [{ label: 'p99 new / old', color: palette.pct, values: r }];
    if (ro) series.push({ label: 'limit', color: palette.limit, flat: true, dash: [6, 4], values: xs.map(() => ro.limits.max_p99_ratio), width: 1.5 });
    panel(view, grid, 'p99 latency ratio per 10 s', (el) => chart(el, { xs, series, yFmt: (x) => x.toFixed(2) + '×' }), gateWords(ro, 'p99_ratio'));
  }
  panel(view, grid, 'Percent served by new', (el) => chart(el, {
    xs, series: [{ label: 'percent', color: palette.ok, values: pts.map((p) => p.percent) }], yFmt: (x) => x + '%', yRange: [0, 100],
  }));
  return sec;
}

function gateWords(ro, name) {
  if (!ro) return null;
  const c = (ro.checks || []).find((x) => x.name === name);
  return c ? h('p', { class: 'gate-words ' + c.status }, checkBadge(c.status), ' ', c.detail) : null;
}

function panel(view, grid, title, draw, words) {
  const el = h('div', { class: 'chart' });
  grid.append(h('figure', { class: 'panel' }, h('figcaption', {}, title), words, el));
  view.draws.push(() => draw(el));
}

// noiseWords says how noise was handled, in words that do not read like
// an alarm when every old/secondary pair carries a timestamp.
function noiseWords(rep) {
  const cancelled = rep.fields.filter((f) => f.noise).length;
  const likely = rep.fields.filter((f) => f.likely_noise && !f.noise).length;
  const paths = (n) => `${n} path${n === 1 ? '' : 's'}`;
  if (!rep.noise_pairs) {
    return 'no secondary measures the noise' + (cancelled ? `; ${paths(cancelled)} that look generated per call treated as noise (diff.auto_noise)` : '') +
      (likely ? `; ${paths(likely)} look generated per call: likely noise, still counted.` : '.');
  }
  return `${paths(cancelled)} cancelled as noise, measured on ${num(rep.noise_pairs)} old/secondary pairs (two copies of old differed somewhere in ${rate(rep.noise_rate)} of them).`;
}

// example shows a path's first example as "old → new", every example in
// its title.
function example(f) {
  if (!f.examples || !f.examples.length) return h('span', { class: 'muted' }, '–');
  const words = (e) => `${e.old || '(absent)'} → ${e.new || '(absent)'}`;
  return h('span', { class: 'example', title: f.examples.map(words).join('\n') }, words(f.examples[0]));
}

// fieldTree lists the differing paths as a tree: each path under its
// parents, with kind, count, rate, noise rate and what changed; noise
// greyed, with why it is noise in the tag's title. Status differences are
// listed under status pairs.
function fieldTree(rep) {
  const sec = h('section', { class: 'card' }, h('h2', {}, 'Differing paths'),
    h('p', { class: 'muted' }, `${num(rep.compared)} compared pairs, ${num(rep.differing)} differing (${rate(rep.diff_rate)}) after noise; `, noiseWords(rep)));
  const body = rep.fields.filter((f) => f.kind !== 'status');
  if (!body.length) {
    sec.append(h('p', {}, 'No differing paths.'));
    return sec;
  }
  const table = h('table', { class: 'grid tree', id: 'fields' }, h('thead', {}, h('tr', {},
    h('th', {}, 'Path'), h('th', {}, 'Kind'), h('th', { class: 'num' }, 'Count'), h('th', { class: 'num' }, 'Rate'),
    h('th', { class: 'num' }, 'Noise rate'), h('th', {}, 'Changed'), h('th', {}, 'Sample'), h('th', {}, ''))));
  const tbody = h('tbody', {});
  table.append(tbody);
  const fields = [...body].sort((a, b) => a.path.localeCompare(b.path) || a.kind.localeCompare(b.kind));
  const shown = new Set();
  for (const f of fields) {
    const parts = f.path === '' ? [] : f.path.split('.');
    // Parents that are not themselves listed get a row of their own.
    for (let i = 1; i < parts.length; i++) {
      const p = parts.slice(0, i).join('.');
      if (shown.has(p)) continue;
      shown.add(p);
      tbody.append(h('tr', { class: 'parent' }, h('td', { class: 'path', style: `padding-left:${0.6 + (i - 1) * 1.2}rem` }, parts[i - 1]), h('td', { colspan: 7 })));
    }
    shown.add(f.path);
    const depth = Math.max(parts.length - 1, 0);
    tbody.append(h('tr', { class: f.noise ? 'noise' : 'real', 'data-path': f.path, 'data-kind': f.kind },
      h('td', { class: 'path', style: `padding-left:${0.6 + depth * 1.2}rem`, title: f.path || '(root)' }, parts.length ? parts[parts.length - 1] : '(root)',
        f.noise ? h('span', { class: 'tag', title: f.why ? f.why.reason : '' }, 'noise') : f.likely_noise ? h('span', { class: 'tag likely', title: `${f.likely_noise_reason}. To ignore it: ${f.suggest}` }, 'likely noise') : null),
      h('td', {}, h('span', { class: 'kind' }, f.kind)),
      h('td', { class: 'num' }, num(f.count)),
      h('td', { class: 'num rate' }, rate(f.rate)),
      h('td', { class: 'num' }, rate(f.noise_rate)),
      h('td', {}, example(f)),
      h('td', {}, f.samples.length ? h('a', { href: '/ui/samples/' + f.samples[0], class: 'sample-link' }, 'open pair') : h('span', { class: 'muted' }, '–')),
      h('td', {}, f.path !== '(other)' && f.kind !== 'status' ? copyRuleButton(f.path, f.kind) : null)));
  }
  sec.append(table);
  if (rep.suggest_ignore && rep.suggest_ignore.length) {
    sec.append(h('p', { class: 'muted' }, 'Suggested for the noise and likely noise paths: ', h('code', {}, `diff: { ignore: ${JSON.stringify(rep.suggest_ignore)} }`)));
  }
  return sec;
}

function statusPairs(rep) {
  const sec = h('section', { class: 'card' }, h('h2', {}, 'Status pairs'));
  if (!rep.status.length) {
    sec.append(h('p', { class: 'muted' }, 'Old and new always answered the same status.'));
    return sec;
  }
  sec.append(h('p', { class: 'muted' }, 'A pair whose statuses differ counts once, here; its bodies are in its sample.'));
  sec.append(h('table', { class: 'grid', id: 'status-pairs' }, h('thead', {}, h('tr', {}, h('th', { class: 'num' }, 'Old'), h('th', { class: 'num' }, 'New'), h('th', { class: 'num' }, 'Pairs'), h('th', { class: 'num' }, 'Share'), h('th', {}, 'Sample'))),
    h('tbody', {}, rep.status.map((s) => h('tr', { class: s.noise ? 'noise' : '' }, h('td', { class: 'num' }, s.old < 0 ? 'other' : s.old), h('td', { class: 'num' + (s.new >= 500 ? ' bad' : '') }, s.new < 0 ? 'other' : s.new),
      h('td', { class: 'num' }, num(s.count)), h('td', { class: 'num' }, rate(ratio(s.count, rep.compared))),
      h('td', {}, s.samples && s.samples.length ? h('a', { href: '/ui/samples/' + s.samples[0], class: 'sample-link' }, 'open pair') : h('span', { class: 'muted' }, '–')))))));
  return sec;
}

function latency(view, rep, series) {
  const l = rep.latency;
  const sec = h('section', { class: 'card' }, h('h2', {}, 'Latency, old vs new'),
    h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, h('th', {}, ''), h('th', { class: 'num' }, 'p50'), h('th', { class: 'num' }, 'p99'))),
      h('tbody', {},
        h('tr', {}, h('td', {}, 'old'), h('td', { class: 'num' }, ms(l.old_p50_ms)), h('td', { class: 'num' }, ms(l.old_p99_ms))),
        h('tr', {}, h('td', {}, 'new'), h('td', { class: 'num' }, ms(l.new_p50_ms)), h('td', { class: 'num' }, ms(l.new_p99_ms))))));
  if (series && series.points.length) {
    const pts = series.points.slice(activeSpan(series.points));
    const el = h('div', { class: 'chart' });
    sec.append(el);
    view.draws.push(() => chart(el, {
      xs: pts.map((p) => Date.parse(p.t) / 1000), height: 150, yFmt: (v) => v + ' ms',
      series: [
        { label: 'old p99', color: palette.old, values: pts.map((p) => (p.compared ? p.old_p99_ms : null)) },
        { label: 'new p99', color: palette.new, values: pts.map((p) => (p.compared ? p.new_p99_ms : null)) },
      ],
    }));
  }
  return sec;
}

function tenants(rep) {
  const sec = h('section', { class: 'card' }, h('h2', {}, 'Top tenants by differing pairs'));
  if (!rep.tenants.length) {
    sec.append(h('p', { class: 'muted' }, 'No tenant seen.'));
    return sec;
  }
  sec.append(h('table', { class: 'grid', id: 'tenants' }, h('thead', {}, h('tr', {}, h('th', {}, 'Tenant'), h('th', { class: 'num' }, 'Differing'), h('th', { class: 'num' }, 'Compared'), h('th', { class: 'num' }, 'Rate'))),
    h('tbody', {}, rep.tenants.map((t) => h('tr', {}, h('td', {}, h('a', { href: '/ui/records?route=' + encodeURIComponent(rep.route) + '&tenant=' + encodeURIComponent(t.tenant) }, t.tenant)),
      h('td', { class: 'num' }, num(t.differing)), h('td', { class: 'num' }, num(t.compared)), h('td', { class: 'num' }, rate(ratio(t.differing, t.compared))))),
      rep.tenants_rest ? h('tr', { class: 'muted' }, h('td', {}, `the rest (${num(rep.tenants_rest.tenants)} tenants, and pairs without one)`),
        h('td', { class: 'num' }, num(rep.tenants_rest.differing)), h('td', { class: 'num' }, num(rep.tenants_rest.compared)),
        h('td', { class: 'num' }, rate(ratio(rep.tenants_rest.differing, rep.tenants_rest.compared)))) : null)));
  return sec;
}

// timeline lists the rollout's transitions, newest first, each with who
// moved it, why, and the gate's readings when it decided.
function timeline(events) {
  const sec = h('section', { class: 'card' }, h('h2', {}, 'Timeline'));
  if (!events.length) {
    sec.append(h('p', { class: 'muted' }, 'No transition yet.'));
    return sec;
  }
  const list = h('ol', { class: 'timeline', id: 'timeline' });
  for (const ev of [...events].reverse()) {
    const pairs = (ev.checks || []).find((c) => c.name === 'samples');
    list.append(h('li', { class: 'event ' + ev.to },
      h('div', { class: 'when' }, when(ev.time)),
      h('div', { class: 'what' },
        h('strong', {}, ev.from ? ev.from.replace('_', ' ') + ' → ' : '', ev.to.replace('_', ' ')),
        ` step ${ev.step} at ${ev.percent}%`, h('span', { class: 'by' }, ' by ' + ev.by),
        pairs ? h('span', { class: 'muted' }, ` · ${num(pairs.count)} pairs`) : null),
      h('div', { class: 'why' }, ev.reason),
      ev.checks && ev.checks.length ? h('ul', { class: 'checks compact' }, ev.checks.map((c) => h('li', { class: 'check ' + c.status }, checkBadge(c.status), ' ', c.detail))) : null));
  }
  sec.append(list);
  return sec;
}

