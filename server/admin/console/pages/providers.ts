// Providers: the list with each one's state; add or edit by kind with a form drawn from the kind's schema; test token, username attribute, fetch token.
import { ApiError, call, revisionOf, type Ok, type Provider } from '../api.js';
import { copyButton, field, h, json, show, table } from '../dom.js';
import { attempt, showError } from '../feedback.js';
import { schemaForm, type JsonSchema, type SchemaForm } from '../schema-form.js';
import { decisionBlock } from '../trace.js';

type Kind = Ok<'/api/v1/provider-kinds', 'get'>['kinds'][number];

const go = (hash: string) => {
  location.hash = hash;
};

export async function renderProviders(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const id = params.get('id');
  if (id !== null) return renderProvider(root, id);
  if (params.has('new')) {
    await renderEditor(root, undefined, params.get('kind') ?? undefined);
    return;
  }
  const { data } = await call('get', '/api/v1/providers');
  show(
    root,
    h('p', {}, h('a', { href: '#/providers?new=1', class: 'button' }, 'Add a provider')),
    data.providers.length === 0
      ? h('p', {}, 'No provider is configured yet.')
      : table(
          ['id', 'kind', 'enabled', 'order', 'state', 'revision', 'updated'],
          data.providers.map((p) => [
            h('a', { href: `#/providers?id=${encodeURIComponent(p.id)}` }, p.id),
            p.kind,
            p.enabled ? 'yes' : 'no',
            String(p.order),
            h('span', { class: p.status.ready ? 'ok' : 'warn' }, p.status.ready ? 'ready' : `not ready${p.status.detail ? `: ${p.status.detail}` : ''}`),
            String(p.revision),
            new Date(p.updatedAt).toLocaleString(),
          ]),
          'Providers, in the order they are tried',
        ),
  );
}

async function kinds(): Promise<Kind[]> {
  return (await call('get', '/api/v1/provider-kinds')).data.kinds;
}

/** Add (no `current`) or edit a provider. Returns the form so the helpers can set claims in it. */
async function renderEditor(root: HTMLElement, current: Provider | undefined, kindName?: string): Promise<SchemaForm | undefined> {
  const all = await kinds();
  const slot = h('div', { class: 'outcome' });
  const idInput = h('input', { id: 'provider-id', name: 'id', required: true, pattern: '[a-z0-9][a-z0-9\\-]{0,62}', value: current?.id ?? '', disabled: current !== undefined, autocomplete: 'off' });
  const kindSelect = h('select', { id: 'provider-kind', name: 'kind', disabled: current !== undefined }, all.map((k) => h('option', { value: k.kind }, `${k.kind} — ${k.description}`)));
  kindSelect.value = current?.kind ?? kindName ?? all[0]?.kind ?? '';
  const enabled = h('input', { type: 'checkbox', id: 'provider-enabled', checked: current?.enabled ?? true });
  const order = h('input', { type: 'number', id: 'provider-order', min: 0, max: 10000, value: String(current?.order ?? 0) });
  const formSlot = h('div');
  let form: SchemaForm | undefined;
  let raw: HTMLTextAreaElement | undefined;

  const draw = () => {
    const kind = all.find((k) => k.kind === kindSelect.value);
    const config = current && current.kind === kindSelect.value ? current.config : {};
    if (kind?.configSchema) {
      form = schemaForm(kind.configSchema as JsonSchema, config, kind.secretFields);
      raw = undefined;
      show(formSlot, form.element);
    } else {
      // A plugin whose schema cannot describe itself: its configuration as JSON.
      form = undefined;
      raw = h('textarea', { id: 'provider-config', rows: 12 }, JSON.stringify(config, null, 2));
      show(formSlot, field('Configuration (JSON)', raw));
    }
  };
  kindSelect.addEventListener('change', draw);
  draw();

  const save = h('button', { type: 'submit' }, current ? 'Save changes' : 'Add provider');
  const editor = h(
    'form',
    { class: 'provider-editor', novalidate: true },
    h('h2', {}, current ? `Edit ${current.id}` : 'Add a provider'),
    field('Id *', idInput, 'Lowercase letters, digits and -'),
    field('Kind', kindSelect),
    field('Enabled', enabled),
    field('Order', order, 'Lower is tried first'),
    formSlot,
    save,
    slot,
  );
  editor.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = idInput.value.trim();
    let config: Record<string, unknown> | undefined;
    if (form) config = form.value();
    else {
      try {
        config = JSON.parse(raw?.value ?? '{}') as Record<string, unknown>;
      } catch {
        showError(slot, new ApiError(400, 'invalid_json', 'the configuration is not valid JSON'));
        return;
      }
    }
    if (!config) return void (slot.textContent = 'Some fields are not valid: see the messages above.');
    void attempt(
      slot,
      async () => {
        try {
          await call('put', '/api/v1/providers/{id}', {
            params: { id },
            body: { kind: kindSelect.value, config, enabled: enabled.checked, order: Number(order.value || 0) },
            ...(current ? { ifMatch: current.revision } : {}),
          });
        } catch (err) {
          if (err instanceof ApiError) form?.markFields(err.fields);
          throw err;
        }
        if (current) void renderProvider(root, id, `Saved ${id}.`);
        else go(`#/providers?id=${encodeURIComponent(id)}`);
      },
      () => void renderProvider(root, id),
      save,
    );
  });
  if (!current) show(root, editor);
  else root.append(editor);
  return form;
}

async function renderProvider(root: HTMLElement, id: string, notice?: string): Promise<void> {
  const { data: provider, etag } = await call('get', '/api/v1/providers/{id}', { params: { id } });
  const revision = revisionOf(etag) ?? provider.revision;
  const redirectUri = `${location.origin}/oauth/callback`;
  show(
    root,
    h('p', {}, h('a', { href: '#/providers' }, '← All providers')),
    notice ? h('div', { class: 'done', role: 'status' }, notice) : null,
    h(
      'section',
      { class: 'summary' },
      h('h2', {}, provider.id, ' ', h('small', {}, provider.kind)),
      h('p', {}, 'State: ', h('span', { class: provider.status.ready ? 'ok' : 'warn' }, provider.status.ready ? 'ready' : `not ready${provider.status.detail ? ` (${provider.status.detail})` : ''}`), ` · revision ${revision}`),
      h('p', {}, 'Redirect URI to register at the provider: ', h('code', { id: 'redirect-uri' }, redirectUri), ' ', copyButton(() => redirectUri)),
    ),
  );
  const form = await renderEditor(root, { ...provider, revision });
  root.append(testPanel(id), userinfoPanel(id, form), fetchPanel(id), removePanel(id, revision, root));
}

function testPanel(id: string): HTMLElement {
  const scheme = h('select', { id: 'test-scheme' }, h('option', { value: 'Bearer' }, 'Bearer'), h('option', { value: 'Basic' }, 'Basic'));
  const username = h('input', { id: 'test-username', autocomplete: 'off' });
  const userField = field('Username (Basic)', username);
  userField.hidden = true;
  scheme.addEventListener('change', () => (userField.hidden = scheme.value !== 'Basic'));
  const token = h('textarea', { id: 'test-token', rows: 3, spellcheck: 'false' });
  const method = h('input', { id: 'test-method', value: 'GET', size: 8 });
  const path = h('input', { id: 'test-path', value: '/' });
  const out = h('div', { class: 'outcome', id: 'test-result' });
  const run = h('button', { type: 'submit' }, 'Test token');
  const form = h('form', { class: 'panel' }, h('h2', {}, 'Test token'), field('Scheme', scheme), userField, field('Token', token), field('Method', method), field('Path', path), run, out);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void attempt(
      out,
      async () => {
        const { data } = await call('post', '/api/v1/providers/{id}/test', {
          params: { id },
          body: { scheme: scheme.value as 'Bearer', token: token.value.trim(), method: method.value.trim().toUpperCase() || 'GET', path: path.value.trim() || '/', ...(scheme.value === 'Basic' ? { username: username.value } : {}) },
        });
        const r = data.result;
        show(
          out,
          h('h3', {}, 'What the provider said'),
          r.outcome === 'identity'
            ? h('p', { class: 'ok' }, 'Identity: ', h('strong', { id: 'test-identity' }, r.identity.username), r.identity.email ? ` <${r.identity.email}>` : '', r.identity.groups.length ? ` in ${r.identity.groups.join(', ')}` : '')
            : r.outcome === 'failure'
              ? h('p', { class: 'warn' }, h('code', {}, r.code), ' ', r.description)
              : h('p', {}, 'Not responsible: this provider does not handle that credential'),
          h('h3', {}, 'What the gateway would decide'),
          decisionBlock(data.decision, data.decision.trace, data.decision.identity ?? null),
        );
      },
      undefined,
      run,
    );
  });
  return form;
}

const CLAIMS = ['usernameClaim', 'emailClaim', 'groupsClaim'] as const;

function userinfoPanel(id: string, form: SchemaForm | undefined): HTMLElement {
  const token = h('textarea', { id: 'userinfo-token', rows: 3, spellcheck: 'false' });
  const out = h('div', { class: 'outcome', id: 'userinfo-result' });
  const run = h('button', { type: 'submit' }, 'Get username attribute');
  const panel = h('form', { class: 'panel' }, h('h2', {}, 'Get username attribute'), field('Token', token, "An access token this provider issued: its userinfo answer is shown"), run, out);
  panel.addEventListener('submit', (event) => {
    event.preventDefault();
    void attempt(
      out,
      async () => {
        const { data } = await call('post', '/api/v1/providers/{id}/userinfo', { params: { id }, body: { token: token.value.trim() } });
        const target = h('select', { id: 'pick-target' }, CLAIMS.map((c) => h('option', { value: c }, c)));
        const picked = h('p', { role: 'status', class: 'picked' });
        show(
          out,
          field('Pick the path for', target, 'Then click a value; Save changes applies it'),
          h(
            'ul',
            { class: 'attributes' },
            data.attributes.map((a) =>
              h(
                'li',
                {},
                h(
                  'button',
                  {
                    type: 'button',
                    class: 'attribute',
                    'data-path': a.path,
                    onclick: () => {
                      form?.set(target.value, a.path);
                      picked.textContent = `${target.value} = ${a.path}: press Save changes to apply.`;
                    },
                  },
                  h('code', {}, a.path),
                  ' = ',
                  JSON.stringify(a.value),
                ),
              ),
            ),
          ),
          picked,
          h('details', {}, h('summary', {}, "The provider's JSON"), json(data.raw)),
        );
      },
      undefined,
      run,
    );
  });
  return panel;
}

function fetchPanel(id: string): HTMLElement {
  const out = h('div', { class: 'outcome' });
  const run = h('button', { type: 'button' }, 'Fetch a token (authorization code with PKCE)');
  run.addEventListener('click', () => {
    void attempt(
      out,
      async () => {
        const { data } = await call('get', '/api/v1/providers/{id}/authorize', { params: { id } });
        window.open(data.authorizationUrl, '_blank', 'noopener');
        return `The provider opened in a new tab; after you log in it shows the token once. Redirect URI: ${data.redirectUri}`;
      },
      undefined,
      run,
    );
  });
  return h('section', { class: 'panel' }, h('h2', {}, 'Fetch token'), run, out);
}

function removePanel(id: string, revision: number, root: HTMLElement): HTMLElement {
  const out = h('div', { class: 'outcome' });
  const confirm = h('input', { id: 'remove-confirm', placeholder: id, autocomplete: 'off' });
  const run = h('button', { type: 'button', class: 'danger' }, 'Remove provider');
  run.addEventListener('click', () => {
    if (confirm.value !== id) return void (out.textContent = `Type ${id} to confirm.`);
    void attempt(out, async () => {
      await call('delete', '/api/v1/providers/{id}', { params: { id }, ifMatch: revision });
      go('#/providers');
    }, () => void renderProvider(root, id), run);
  });
  return h('section', { class: 'panel' }, h('h2', {}, 'Remove'), field('Type the id to confirm', confirm), run, out);
}
