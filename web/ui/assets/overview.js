// Overview (/ui/): every route with its sides, rollout state, percent,
// diff rate and its trend, error rate, latency ratio and what the rollout
// waits for. Refreshes itself; routes needing attention come first.
import { activeSpan, api, h, ms, num, rate, ratio, routeLink, set, sparkline, stateBadge, stateRank } from './lib.js';

const REFRESH_MS = 3000;
const TREND = 'since=10m&step=20s';

export async function render(app) {
  const tbody = h('tbody', {});
  const stamp = h('span', { class: 'muted', id: 'refreshed' }, '');
  app.replaceChildren(
    h('div', { class: 'page-head' },
      h('h1', {}, 'Routes'),
      h('p', { class: 'muted' }, 'Every route of the gateway. Rolled back, holding, paused and failing routes come first. Diff rate since start, trend over the last 10 minutes. ', stamp)),
    h('table', { class: 'grid overview', id: 'routes' },
      h('thead', {}, h('tr', {},
        h('th', {}, 'Route'), h('th', {}, 'Old → new'), h('th', {}, 'State'), h('th', { class: 'num' }, 'Percent'),
        h('th', { class: 'num' }, 'Diff rate'), h('th', {}, 'Trend'), h('th', { class: 'num' }, 'Errors (new)'),
        h('th', { class: 'num' }, 'p99 new/old'), h('th', {}, 'Waiting for'))),
      tbody));
  const rows = new Map();
  const refresh = async () => {
    try {
      await update(tbody, rows);
      stamp.textContent = 'Updated ' + new Date().toLocaleTimeString('en-GB', { hour12: false }) + '.';
      stamp.classList.remove('bad');
    } catch (err) {
      stamp.textContent = 'Refresh failed: ' + err.message;
      stamp.classList.add('bad');
    }
  };
  await refresh();
  setInterval(refresh, REFRESH_MS);
}

function attention(r, rep) {
  let rank = r.state ? (stateRank[r.state] ?? 4) : 6;
  const checks = (r.rollout && r.rollout.checks) || [];
  if (checks.some((c) => c.status === 'fail')) rank = Math.min(rank, 1);
  if (!r.state && rep && rep.diff_rate > 0) rank = 4;
  return rank;
}

async function update(tbody, rows) {
  const [routes, report] = await Promise.all([api('/api/routes'), api('/api/report')]);
  const reports = new Map(report.routes.map((r) => [r.route, r]));
  const series = await Promise.all(routes.routes.map((r) =>
    api('/api/report/series?route=' + encodeURIComponent(r.name) + '&' + TREND).catch(() => null)));
  const order = routes.routes.map((r, i) => ({ r, rep: reports.get(r.name), s: series[i] }))
    .sort((a, b) => attention(a.r, a.rep) - attention(b.r, b.rep) || a.r.name.localeCompare(b.r.name));
  const seen = new Set();
  for (const { r, rep, s } of order) {
    seen.add(r.name);
    let row = rows.get(r.name);
    if (!row) {
      row = makeRow(r.name);
      rows.set(r.name, row);
    }
    fill(row, r, rep, s);
    tbody.append(row.tr); // re-appending moves the row into its sorted place
  }
  for (const [name, row] of rows) {
    if (!seen.has(name)) {
      row.tr.remove();
      rows.delete(name);
    }
  }
}

function makeRow(name) {
  const cells = {};
  const td = (key, cls) => (cells[key] = h('td', { class: cls || null }));
  const tr = h('tr', { 'data-route': name },
    h('td', {}, routeLink(name)), td('sides'), td('state'), td('percent', 'num'), td('diff', 'num'),
    td('trend', 'trend'), td('errors', 'num'), td('latency', 'num'), td('waiting', 'waiting'));
  return { tr, cells, spark: null };
}

function fill(row, r, rep, s) {
  const c = row.cells;
  set(c.sides, r.upstream ? h('span', {}, r.upstream) : h('span', {}, r.old || '–', h('span', { class: 'arrow' }, ' → '), r.new || '–'));
  const cohort = r.gray && r.gray.cohort;
  if (cohort) c.sides.appendChild(h('div', { class: 'muted small cohort' }, 'cohort ' + cohort));
  set(c.state, stateBadge(r.state));
  const ro = r.rollout;
  set(c.percent, r.upstream ? h('span', { class: 'muted' }, '–') : r.percent + '%', ro ? h('div', { class: 'muted small' }, 'step ' + ro.step + ' of ' + ro.steps.length) : null);
  if (rep) {
    set(c.diff, h('span', { class: 'diff-rate' + (rep.diff_rate > (ro ? ro.limits.max_diff_rate : Infinity) ? ' bad' : '') }, rate(rep.diff_rate)),
      h('div', { class: 'muted small' }, num(rep.differing) + ' of ' + num(rep.compared)));
    const lr = rep.latency.old_p99_ms > 0 ? rep.latency.new_p99_ms / rep.latency.old_p99_ms : 0;
    set(c.latency, lr ? lr.toFixed(2) + '×' : '–', h('div', { class: 'muted small' }, ms(rep.latency.new_p99_ms) + ' / ' + ms(rep.latency.old_p99_ms)));
  } else {
    set(c.diff, h('span', { class: 'muted', title: 'no shadow block: nothing is compared' }, '–'));
    set(c.latency, h('span', { class: 'muted' }, '–'));
  }
  // Errors: the rollout step's counts when there is one (every replica's),
  // else this replica's new answers over the trend window.
  let errors = null;
  if (ro && ro.counts.calls > 0) {
    errors = [ro.counts.errors, ro.counts.calls, 'in step'];
  } else if (s) {
    const e = s.points.reduce((a, p) => a + (r.upstream ? p.errors : p.new_errors), 0);
    const n = s.points.reduce((a, p) => a + (r.upstream ? p.requests : p.new_requests), 0);
    if (n > 0) errors = [e, n, 'last 10m'];
  }
  set(c.errors, errors ? h('span', { class: errors[0] > 0 ? 'bad' : null }, rate(ratio(errors[0], errors[1]))) : '–',
    errors ? h('div', { class: 'muted small' }, num(errors[0]) + ' of ' + num(errors[1]) + ' ' + errors[2]) : null);
  if (s && rep) {
    const pts = s.points.slice(activeSpan(s.points, 3, 0));
    const xs = pts.map((p) => Date.parse(p.t) / 1000);
    const ys = pts.map((p) => (p.compared > 0 ? p.differing / p.compared : null));
    if (ys.filter((v) => v !== null).length < 2) {
      // One step of data draws no line: say so rather than show a dot.
      if (row.spark) row.spark.destroy();
      row.spark = null;
      set(c.trend, h('span', { class: 'muted small' }, ys.some((v) => v !== null) ? 'one 20 s step so far' : 'no pairs lately'));
    } else if (!row.spark) {
      c.trend.replaceChildren();
      row.spark = sparkline(c.trend, xs, ys);
    } else {
      row.spark.setData([xs, ys]);
    }
  }
  const waiting = ro ? (ro.waiting_for || ro.reason || '') : '';
  set(c.waiting, waiting ? h('span', { title: waiting }, waiting) : h('span', { class: 'muted' }, ro ? '–' : 'no rollout'));
}
