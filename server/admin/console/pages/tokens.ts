// Tokens: create one (its secret shown once, with a copy button and a curl example), list with filters and state, revoke one or all of an owner's.
import { call, type Token } from '../api.js';
import { copyButton, field, h, lines, show, table, when } from '../dom.js';
import { attempt } from '../feedback.js';

const STATES = ['', 'active', 'expiring_soon', 'expired', 'revoked'] as const;

export async function renderTokens(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const owner = params.get('owner') ?? '';
  const state = params.get('state') ?? '';
  const list = h('div', { id: 'token-list' });
  show(root, createForm(() => void renderTokens(root, params)), filters(owner, state), list);
  const { data } = await call('get', '/api/v1/tokens', { query: { owner: owner || undefined, state: (state || undefined) as Token['state'] | undefined } });
  const out = h('div', { class: 'outcome' });
  show(
    list,
    out,
    owner
      ? h('p', {}, h('button', { type: 'button', class: 'danger', id: 'revoke-all', onclick: (e: Event) => void attempt(out, async () => {
          const { data: r } = await call('delete', '/api/v1/tokens', { query: { owner, reason: 'revoked from the console' } });
          await renderTokens(root, params);
          return `Revoked ${r.revoked} token(s) of ${r.owner}.`;
        }, undefined, e.currentTarget as HTMLButtonElement) }, `Revoke every active token of ${owner}`))
      : null,
    data.tokens.length === 0
      ? h('p', {}, 'No token matches.')
      : table(
          ['name', 'owner', 'kind', 'state', 'expires', 'last used', 'uses', 'limits', ''],
          data.tokens.map((t) => {
            const row = h(
              'tr',
              { 'data-token': t.id },
              h('td', {}, t.name, h('br'), h('small', {}, h('code', {}, t.id))),
              h('td', {}, h('a', { href: `#/tokens?owner=${encodeURIComponent(t.owner)}` }, t.owner)),
              h('td', {}, t.kind),
              h('td', {}, h('span', { class: `state ${t.state}` }, t.state.replace('_', ' '))),
              h('td', {}, t.expiresAt ? when(t.expiresAt) : 'never'),
              h('td', {}, when(t.lastUsedAt)),
              h('td', {}, String(t.useCount)),
              h('td', {}, [t.readOnly ? 'read-only' : '', t.pathPrefixes.join(' '), t.ipAllow.join(' ')].filter(Boolean).join(' · ')),
              h('td', {}),
            );
            if (t.state !== 'revoked') {
              const button = h('button', { type: 'button', class: 'danger revoke' }, 'Revoke');
              button.addEventListener('click', () => void attempt(out, async () => {
                await call('delete', '/api/v1/tokens/{id}', { params: { id: t.id }, query: { reason: 'revoked from the console' } });
                await renderTokens(root, params);
                return `Revoked ${t.name} (${t.id}).`;
              }, undefined, button));
              row.lastElementChild!.append(button);
            }
            return row;
          }),
          'Gateway tokens, newest first',
        ),
  );
}

function filters(owner: string, state: string): HTMLElement {
  const ownerInput = h('input', { id: 'filter-owner', value: owner });
  const stateSelect = h('select', { id: 'filter-state' }, STATES.map((s) => h('option', { value: s }, s || 'any')));
  stateSelect.value = state;
  const form = h('form', { class: 'filters' }, field('Owner', ownerInput), field('State', stateSelect), h('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    if (ownerInput.value.trim()) q.set('owner', ownerInput.value.trim());
    if (stateSelect.value) q.set('state', stateSelect.value);
    location.hash = `#/tokens?${q}`;
  });
  return form;
}

function createForm(reload: () => void): HTMLElement {
  const owner = h('input', { id: 'new-owner', required: true, autocomplete: 'off' });
  const name = h('input', { id: 'new-name', required: true, autocomplete: 'off' });
  const kind = h('select', { id: 'new-kind' }, h('option', { value: 'user' }, 'user'), h('option', { value: 'service' }, 'service account'));
  const groups = h('input', { id: 'new-groups', autocomplete: 'off' });
  const days = h('input', { id: 'new-days', type: 'number', min: 1, max: 36500 });
  const readOnly = h('input', { id: 'new-readonly', type: 'checkbox' });
  const prefixes = h('textarea', { id: 'new-prefixes', rows: 2 });
  const ips = h('textarea', { id: 'new-ips', rows: 2 });
  const out = h('div', { class: 'outcome', id: 'new-token' });
  const create = h('button', { type: 'submit' }, 'Create token');
  const form = h(
    'form',
    { class: 'panel' },
    h('h2', {}, 'Create a token'),
    h('div', { class: 'row' }, field('Owner *', owner), field('Name *', name), field('Kind', kind)),
    h('div', { class: 'row' }, field('Groups', groups, 'Separated by commas'), field('Expires in days', days, 'Empty: the policy default'), field('Read-only', readOnly)),
    h('div', { class: 'row' }, field('Path prefixes', prefixes, 'One a line; empty: any path'), field('Client addresses', ips, 'Addresses or CIDRs, one a line; empty: any')),
    create,
    out,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void attempt(
      out,
      async () => {
        const { data } = await call('post', '/api/v1/tokens', {
          body: {
            owner: owner.value.trim(),
            name: name.value.trim(),
            kind: kind.value as 'user' | 'service',
            groups: groups.value.split(',').map((g) => g.trim()).filter(Boolean),
            readOnly: readOnly.checked,
            pathPrefixes: lines(prefixes.value),
            ipAllow: lines(ips.value),
            ...(days.value ? { expiresInDays: Number(days.value) } : {}),
          },
        });
        const secret = data.token;
        const curl = `curl -H "Authorization: Bearer ${secret}" "$PORTCULLIS_URL/"`;
        reload();
        // After the list reloads, so the secret stays on screen until the admin leaves the page.
        queueMicrotask(() =>
          show(
            document.getElementById('new-token') ?? out,
            h(
              'div',
              { class: 'secret', role: 'status' },
              h('p', {}, h('strong', {}, `Token ${data.name} for ${data.owner} created. `), 'Copy it now: it is shown this once and never stored.'),
              h('p', {}, h('code', { id: 'token-secret' }, secret), ' ', copyButton(() => secret)),
              h('p', {}, 'Try it (', h('code', {}, '$PORTCULLIS_URL'), ' being the gateway):'),
              h('pre', {}, curl),
              copyButton(() => curl, 'Copy curl'),
              h('p', {}, `Expires: ${data.expiresAt ? when(data.expiresAt) : 'never'}`),
            ),
          ),
        );
      },
      undefined,
      create,
    );
  });
  return form;
}
