// The dashboard's entry: reads the path, loads the page's module and
// renders it into <main id="app">. Every page is its own URL, so links
// are plain links and a deep link loads on its own.
import { access, errorBox, h, isChainID, toast } from './lib.js';

const pages = [
  [/^\/ui\/?$/, 'overview', () => import('./overview.js')],
  [/^\/ui\/routes\/([^/]+)$/, 'overview', () => import('./route.js')],
  [/^\/ui\/samples\/([^/]+)$/, 'overview', () => import('./sample.js')],
  [/^\/ui\/chains\/([^/]+)$/, 'records', () => import('./chain.js')],
  [/^\/ui\/records\/?$/, 'records', () => import('./records.js')],
];

document.getElementById('chain-open').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = ev.target.elements.id.value.trim();
  if (!isChainID(id)) {
    toast('A chain ID is 32 hex digits', true);
    return;
  }
  location.href = '/ui/chains/' + id.toLowerCase();
});

async function main() {
  const app = document.getElementById('app');
  const path = location.pathname;
  for (const [re, nav, load] of pages) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === nav);
    try {
      const acc = await access();
      const badge = document.getElementById('access');
      badge.textContent = acc.access === 'read' ? 'read-only' : (acc.token_required ? 'full access' : '');
      badge.className = 'access ' + acc.access;
      document.body.dataset.access = acc.access;
      const mod = await load();
      await mod.render(app, m[1] ? decodeURIComponent(m[1]) : '', acc);
    } catch (err) {
      app.replaceChildren(errorBox(err));
    }
    return;
  }
  app.replaceChildren(h('h1', {}, 'No such page'), h('p', {}, h('a', { href: '/ui/' }, 'Back to the routes')));
}

main();
