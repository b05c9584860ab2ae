// Settings: toggles, restrictions, paths, routes, rate limits, retention and console sign-in; each section saved as a JSON merge patch with If-Match.
import ipaddr from 'ipaddr.js';
import { call, revisionOf } from '../api.js';
import { field, h, lines, mark, show } from '../dom.js';
import { attempt } from '../feedback.js';

// ipaddr.js, bundled: the same parser the server validates with.

type Kind = 'bool' | 'lines' | 'addresses' | 'text' | 'enum' | 'number' | 'limit' | 'json';
interface Field {
  readonly path: string;
  readonly label: string;
  readonly kind: Kind;
  readonly hint?: string;
  readonly options?: readonly string[];
}

const SECTIONS: readonly { id: string; title: string; fields: readonly Field[] }[] = [
  {
    id: 'toggles',
    title: 'Global toggles',
    fields: [
      { path: 'enabled', label: 'Authentication enabled (master switch)', kind: 'bool', hint: 'Off: every request passes untouched' },
      { path: 'credentials.basic', label: 'Basic authentication', kind: 'enum', options: ['allow', 'tokens-only', 'deny'] },
      { path: 'credentials.pat.allow', label: 'Pass personal access tokens through', kind: 'bool' },
      { path: 'credentials.pat.pattern', label: 'PAT pattern', kind: 'text', hint: 'A regular expression recognising them' },
      { path: 'credentials.gatewayTokens', label: 'Gateway tokens accepted', kind: 'bool' },
      { path: 'tokens.allowUserCreate', label: 'Users may create their own tokens', kind: 'bool' },
    ],
  },
  {
    id: 'restrictions',
    title: 'Restrictions',
    fields: [
      { path: 'ip.allow', label: 'IP allow list', kind: 'addresses', hint: 'Addresses or CIDRs, one a line; empty: any' },
      { path: 'ip.deny', label: 'IP deny list', kind: 'addresses', hint: 'Addresses or CIDRs, one a line' },
      { path: 'ip.trustedProxies', label: 'Trusted proxies', kind: 'addresses', hint: 'Whose real-IP header is believed' },
      { path: 'ip.realIpHeader', label: 'Real-IP header', kind: 'text' },
      { path: 'groups.allowed', label: 'Allowed groups', kind: 'lines', hint: 'One a line; empty: any group' },
      { path: 'groups.readOnly', label: 'Read-only groups', kind: 'lines' },
      { path: 'groups.tokenCreators', label: 'Token creators', kind: 'lines' },
      { path: 'groups.mapping', label: 'Group mapping', kind: 'json', hint: 'JSON list of rules {to, provider?, group?, claim?, value?, scope?}' },
    ],
  },
  {
    id: 'paths',
    title: 'Paths and routes',
    fields: [
      { path: 'paths.public', label: 'Public paths', kind: 'lines', hint: 'Patterns, one a line' },
      { path: 'paths.bypass', label: 'Bypass paths', kind: 'lines' },
      { path: 'paths.restrictPublic', label: 'Restricted public paths', kind: 'lines' },
      { path: 'routes', label: 'Routes', kind: 'json', hint: 'JSON list of per-route rules' },
    ],
  },
  {
    id: 'rate',
    title: 'Rate limiting',
    fields: [
      { path: 'rateLimit.enabled', label: 'Enabled', kind: 'bool' },
      { path: 'rateLimit.limit', label: 'Requests per window', kind: 'number' },
      { path: 'rateLimit.windowSeconds', label: 'Window (seconds)', kind: 'number' },
      { path: 'rateLimit.key', label: 'Counted per', kind: 'enum', options: ['token', 'user', 'ip'] },
      { path: 'rateLimit.exempt', label: 'Exempt', kind: 'json', hint: 'JSON {users, groups, ips}' },
    ],
  },
  {
    id: 'retention',
    title: 'Audit and retention',
    fields: [
      { path: 'audit.enabled', label: 'Record every decision', kind: 'bool' },
      { path: 'audit.retention.maxDays', label: 'Keep days', kind: 'limit', hint: 'Empty: every day' },
      { path: 'audit.retention.maxEntries', label: 'Keep at most decisions', kind: 'limit', hint: 'Empty: no cap' },
    ],
  },
  {
    id: 'console',
    title: 'Console sign-in',
    fields: [
      { path: 'console.signInProvider', label: 'Sign-in provider', kind: 'text', hint: 'A configured provider id; empty: the admin token only' },
      { path: 'console.adminGroups', label: 'Admin groups', kind: 'lines', hint: "Members may sign in (groups as the provider reports them); one a line" },
      { path: 'console.sessionMinutes', label: 'Session length (minutes)', kind: 'number' },
    ],
  },
];

const get = (obj: unknown, path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);

function patchOf(path: string, value: unknown): Record<string, unknown> {
  return path
    .split('.')
    .reverse()
    .reduce<unknown>((inner, key) => ({ [key]: inner }), value) as Record<string, unknown>;
}

function merge(into: Record<string, unknown>, patch: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(patch)) {
    const cur = into[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)) merge(cur as Record<string, unknown>, v as Record<string, unknown>);
    else into[k] = v;
  }
}

/** The problem with one line of an address list, as the admin types. */
export function addressProblem(line: string): string | undefined {
  const ok = line.includes('/') ? ipaddr.isValidCIDR(line) : ipaddr.isValid(line);
  return ok ? undefined : `${line} is not an IPv4 or IPv6 address or CIDR`;
}

type Read = { ok: true; value: unknown } | { ok: false; problem: string };

function control(f: Field, value: unknown): { el: HTMLElement; read: () => Read } {
  const id = `set-${f.path.replace(/\./g, '-')}`;
  switch (f.kind) {
    case 'bool': {
      const input = h('input', { type: 'checkbox', id, checked: value === true });
      return { el: field(f.label, input, f.hint), read: () => ({ ok: true, value: input.checked }) };
    }
    case 'enum': {
      const input = h('select', { id }, (f.options ?? []).map((o) => h('option', { value: o }, o)));
      input.value = String(value);
      return { el: field(f.label, input, f.hint), read: () => ({ ok: true, value: input.value }) };
    }
    case 'number':
    case 'limit': {
      const input = h('input', { type: 'number', id, min: 1, value: typeof value === 'number' ? String(value) : '' });
      const read = (): Read => {
        if (input.value.trim() === '') return f.kind === 'limit' ? { ok: true, value: false } : { ok: false, problem: 'required' };
        const n = Number(input.value);
        return Number.isInteger(n) && n >= 1 ? { ok: true, value: n } : { ok: false, problem: 'a whole number from 1' };
      };
      input.addEventListener('input', () => { const r = read(); mark(input, r.ok ? undefined : r.problem); });
      return { el: field(f.label, input, f.hint), read };
    }
    case 'text': {
      const input = h('input', { id, value: typeof value === 'string' ? value : '', autocomplete: 'off', spellcheck: 'false' });
      return { el: field(f.label, input, f.hint), read: () => ({ ok: true, value: input.value.trim() === '' ? null : input.value.trim() }) };
    }
    case 'lines':
    case 'addresses': {
      const input = h('textarea', { id, rows: 3, spellcheck: 'false' }, Array.isArray(value) ? value.join('\n') : '');
      const read = (): Read => {
        const items = lines(input.value);
        const problem = f.kind === 'addresses' ? items.map(addressProblem).find((p) => p !== undefined) : undefined;
        return problem ? { ok: false, problem } : { ok: true, value: items };
      };
      input.addEventListener('input', () => { const r = read(); mark(input, r.ok ? undefined : r.problem); });
      return { el: field(f.label, input, f.hint), read };
    }
    case 'json': {
      const input = h('textarea', { id, rows: 4, spellcheck: 'false' }, JSON.stringify(value ?? null, null, 2));
      const read = (): Read => {
        try {
          return { ok: true, value: JSON.parse(input.value) as unknown };
        } catch {
          return { ok: false, problem: 'not valid JSON' };
        }
      };
      input.addEventListener('input', () => { const r = read(); mark(input, r.ok ? undefined : r.problem); });
      return { el: field(f.label, input, f.hint), read };
    }
  }
}

export async function renderSettings(root: HTMLElement): Promise<void> {
  const { data, etag } = await call('get', '/api/v1/settings');
  const revision = revisionOf(etag) ?? data.revision;
  show(root, h('p', {}, `Revision ${revision}. Each section saves only its own keys, as a JSON merge patch; a change made meanwhile by someone else is refused (412).`));
  for (const section of SECTIONS) {
    const controls = section.fields.map((f) => ({ f, ...control(f, get(data.settings, f.path)) }));
    const out = h('div', { class: 'outcome' });
    const save = h('button', { type: 'submit' }, `Save ${section.title.toLowerCase()}`);
    const form = h('form', { class: 'panel', id: `section-${section.id}`, novalidate: true }, h('h2', {}, section.title), controls.map((c) => c.el), save, out);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const patch: Record<string, unknown> = {};
      let ok = true;
      for (const c of controls) {
        const r = c.read();
        const input = c.el.querySelector('input, select, textarea') as HTMLElement;
        mark(input, r.ok ? undefined : r.problem);
        if (!r.ok) ok = false;
        else if (JSON.stringify(r.value) !== JSON.stringify(get(data.settings, c.f.path))) merge(patch, patchOf(c.f.path, r.value));
      }
      if (!ok) return void (out.textContent = 'Some fields are not valid: see the messages above.');
      if (Object.keys(patch).length === 0) return void (out.textContent = 'Nothing changed.');
      void attempt(
        out,
        async () => {
          const { etag: next } = await call('patch', '/api/v1/settings', { body: patch, ifMatch: revision, contentType: 'application/merge-patch+json' });
          await renderSettings(root);
          const slot = document.querySelector(`#section-${section.id} .outcome`);
          if (slot) slot.textContent = `Saved: settings revision ${revisionOf(next) ?? ''}.`;
        },
        () => void renderSettings(root),
        save,
      );
    });
    root.append(form);
  }
}
