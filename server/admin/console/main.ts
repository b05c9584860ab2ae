// The console's shell: sign-in with the admin token, navigation, and one page at a time chosen by the URL's hash.
import { ApiError, call, session, whenUnauthorized } from './api.js';
import { h, show } from './dom.js';
import { renderAudit } from './pages/audit.js';
import { renderHistory } from './pages/history.js';
import { renderOverview } from './pages/overview.js';
import { renderProviders } from './pages/providers.js';
import { renderSettings } from './pages/settings.js';
import { renderSimulate } from './pages/simulate.js';
import { renderTokens } from './pages/tokens.js';

type Page = (root: HTMLElement, params: URLSearchParams) => Promise<void>;

const PAGES: readonly { id: string; title: string; render: Page }[] = [
  { id: 'overview', title: 'Overview', render: renderOverview },
  { id: 'providers', title: 'Providers', render: renderProviders },
  { id: 'tokens', title: 'Tokens', render: renderTokens },
  { id: 'settings', title: 'Settings', render: renderSettings },
  { id: 'audit', title: 'Audit log', render: renderAudit },
  { id: 'history', title: 'History', render: renderHistory },
  { id: 'simulate', title: 'Simulate', render: renderSimulate },
];

const app = document.getElementById('app')!;

function signIn(message?: string): void {
  const input = h('input', { type: 'password', id: 'admin-token', name: 'admin-token', autocomplete: 'current-password', required: true });
  const problem = h('p', { class: 'error', role: 'alert' }, message ?? '');
  if (!message) problem.hidden = true;
  const form = h(
    'form',
    { class: 'sign-in' },
    h('h1', {}, 'Portcullis console'),
    h('label', { for: 'admin-token' }, 'Admin token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    problem,
    h('p', { class: 'hint' }, 'The token printed at first start (or set with PORTCULLIS_ADMIN_TOKEN). It is kept in this tab only.'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    session.signIn(input.value.trim());
    call('get', '/api/v1/settings').then(
      () => route(),
      (err: unknown) => {
        session.signOut();
        signIn(err instanceof ApiError ? `${err.code}: ${err.description}` : String(err));
      },
    );
  });
  show(app, form);
  input.focus();
}

async function route(): Promise<void> {
  if (!session.token()) return signIn();
  const [id = 'overview', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const page = PAGES.find((p) => p.id === id) ?? PAGES[0]!;
  const main = h('main', { id: 'page', tabindex: '-1' });
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    h('span', { class: 'brand' }, 'Portcullis'),
    h('ul', {}, PAGES.map((p) => h('li', {}, h('a', { href: `#/${p.id}`, ...(p === page ? { 'aria-current': 'page' } : {}) }, p.title)))),
    h('button', { type: 'button', class: 'sign-out', onclick: () => { session.signOut(); signIn(); } }, 'Sign out'),
  );
  show(app, nav, main);
  document.title = `${page.title} · Portcullis`;
  main.append(h('h1', {}, page.title));
  const body = h('div', { class: 'page-body' });
  main.append(body);
  try {
    await page.render(body, new URLSearchParams(query));
  } catch (err) {
    // A page that cannot load shows why; 401 has already sent us to sign-in.
    if (!(err instanceof ApiError && err.status === 401)) body.append(h('p', { class: 'error', role: 'alert' }, err instanceof ApiError ? `${err.code}: ${err.description}` : String(err)));
  }
  main.dataset.ready = page.id;
}

whenUnauthorized((why) => {
  session.signOut();
  signIn(`Signed out: ${why}`);
});
window.addEventListener('hashchange', () => void route());
void route();
