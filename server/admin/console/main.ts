// The console's shell: sign-in (admin token or the configured provider, to a session cookie), navigation, and one page at a time chosen by the URL's hash.
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

/** The sign-in page: the admin token (exchanged once for the session cookie), or the configured provider. */
function signIn(message?: string): void {
  const input = h('input', { type: 'password', id: 'admin-token', name: 'admin-token', autocomplete: 'current-password', required: true });
  const problem = h('p', { class: 'error', role: 'alert' }, message ?? '');
  if (!message) problem.hidden = true;
  const withProvider = h('div', { class: 'sign-in-provider' });
  const form = h(
    'form',
    { class: 'sign-in' },
    h('h1', {}, 'Portcullis console'),
    withProvider,
    h('label', { for: 'admin-token' }, 'Admin token'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    problem,
    h('p', { class: 'hint' }, 'The token printed at first start (or set with PORTCULLIS_ADMIN_TOKEN). It is exchanged for a session cookie and not kept.'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    call('post', '/api/v1/session', { bearer: input.value.trim() }).then(
      ({ data }) => {
        session.set(data);
        void route();
      },
      (err: unknown) => signIn(err instanceof ApiError ? `${err.code}: ${err.description}` : String(err)),
    );
  });
  show(app, form);
  input.focus();
  // Shown once the API says a provider is configured; a plain link, so the browser goes to the provider and back.
  call('get', '/api/v1/session/options').then(
    ({ data }) => {
      if (data.oidc) withProvider.append(h('a', { class: 'button', id: 'sign-in-oidc', href: data.oidc.signInUrl }, `Sign in with ${data.oidc.provider}`), h('p', { class: 'or' }, 'or'));
    },
    () => undefined,
  );
}

async function route(): Promise<void> {
  if (!session.current) {
    // After a reload or the provider's redirect: the cookie (if any) says who we are. A 401 shows sign-in.
    try {
      session.set((await call('get', '/api/v1/session')).data);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 401)) signIn(err instanceof ApiError ? `${err.code}: ${err.description}` : String(err));
      return;
    }
  }
  const [id = 'overview', query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const page = PAGES.find((p) => p.id === id) ?? PAGES[0]!;
  const main = h('main', { id: 'page', tabindex: '-1' });
  const nav = h(
    'nav',
    { 'aria-label': 'Console' },
    h('span', { class: 'brand' }, 'Portcullis'),
    h('ul', {}, PAGES.map((p) => h('li', {}, h('a', { href: `#/${p.id}`, ...(p === page ? { 'aria-current': 'page' } : {}) }, p.title)))),
    h('span', { class: 'who', id: 'signed-in-as' }, session.current?.actor ?? ''),
    h('button', { type: 'button', class: 'sign-out', onclick: () => void signOut() }, 'Sign out'),
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

async function signOut(): Promise<void> {
  await call('delete', '/api/v1/session').catch(() => undefined);
  session.set(undefined);
  signIn();
}

whenUnauthorized((why) => {
  const signedIn = session.current !== undefined;
  session.set(undefined);
  signIn(signedIn ? `Signed out: ${why}` : undefined);
});
window.addEventListener('hashchange', () => void route());
void route();
