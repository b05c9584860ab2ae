// Audit log: decisions filtered, newest first, cursor paging, CSV and NDJSON export; a row opens its decision with trace and identity.
import { call, request, type AuditRow } from '../api.js';
import { field, h, show, table, when } from '../dom.js';
import { attempt } from '../feedback.js';
import { decisionBlock, verdict } from '../trace.js';

const FILTERS = ['from', 'to', 'user', 'provider', 'token', 'ip', 'method', 'path', 'status', 'decision', 'reason'] as const;

/** `2026-01-05T09:00` (a datetime-local input) ⇄ ISO 8601. */
const toLocalInput = (iso: string): string => {
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};
const fromLocalInput = (value: string): string | undefined => (value ? new Date(value).toISOString() : undefined);

export async function renderAudit(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const query: Record<string, string | undefined> = {};
  for (const name of FILTERS) query[name] = params.get(name) ?? undefined;
  const cursor = params.get('cursor') ?? undefined;
  const { data } = await call('get', '/api/v1/audit', { query: { ...query, cursor } });

  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  for (const name of FILTERS) {
    const value = query[name] ?? '';
    const input =
      name === 'decision'
        ? h('select', { id: `audit-${name}` }, ['', 'allow', 'deny'].map((v) => h('option', { value: v }, v || 'any')))
        : name === 'from' || name === 'to'
          ? h('input', { id: `audit-${name}`, type: 'datetime-local', value: toLocalInput(name === 'from' ? data.from : data.to) })
          : h('input', { id: `audit-${name}`, value, autocomplete: 'off' });
    input.value = name === 'from' || name === 'to' ? toLocalInput(name === 'from' ? data.from : data.to) : value;
    inputs.set(name, input);
  }
  const form = h('form', { class: 'filters' }, FILTERS.map((n) => field(n, inputs.get(n)!)), h('button', { type: 'submit' }, 'Filter'));
  const current = (): URLSearchParams => {
    const q = new URLSearchParams();
    for (const [name, input] of inputs) {
      const v = name === 'from' || name === 'to' ? fromLocalInput(input.value) : input.value.trim();
      if (v) q.set(name, v);
    }
    return q;
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = `#/audit?${current()}`;
  });

  const out = h('div', { class: 'outcome' });
  const exportButton = (format: 'csv' | 'ndjson') => {
    const button = h('button', { type: 'button', class: 'export' }, `Export ${format.toUpperCase()}`);
    button.addEventListener('click', () =>
      void attempt(out, async () => {
        // The range shown (the page's own filters: the time inputs hold whole minutes, and would drop the
        // last one), fetched with the session cookie, then handed to the browser as a download.
        const res = await request('get', '/api/v1/audit/export', { query: { ...query, format }, accept: '*/*' });
        const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `audit.${format}`;
        const link = h('a', { href: URL.createObjectURL(await res.blob()), download: name });
        link.click();
        setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
        return `Downloaded ${name}`;
      }, undefined, button),
    );
    return button;
  };

  const detail = h('section', { id: 'audit-detail', class: 'panel', 'aria-live': 'polite' });
  detail.hidden = true;
  const open = (row: AuditRow, tr: HTMLTableRowElement) => {
    for (const other of tr.parentElement?.children ?? []) other.removeAttribute('aria-selected');
    tr.setAttribute('aria-selected', 'true');
    detail.hidden = false;
    show(
      detail,
      h('h2', {}, `${row.method} ${row.path}`),
      h('p', {}, `${when(row.time)} · request ${row.requestId} · from ${row.clientIp}${row.peerIp !== row.clientIp ? ` (peer ${row.peerIp})` : ''} · host ${row.host}`),
      decisionBlock(row, row.trace, row.username ? { username: row.username, provider: row.provider, subject: row.subject, tokenId: row.tokenId, groups: row.groups, credential: row.credential } : null),
    );
  };

  const rows = data.decisions.map((d) => {
    const tr = h(
      'tr',
      { tabindex: '0', class: 'clickable', 'data-request': d.requestId },
      h('td', {}, when(d.time)),
      h('td', {}, verdict(d)),
      h('td', {}, h('code', {}, d.reason)),
      h('td', {}, d.method),
      h('td', {}, d.path),
      h('td', {}, d.username ?? '—'),
      h('td', {}, d.clientIp),
    );
    tr.addEventListener('click', () => open(d, tr));
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        open(d, tr);
      }
    });
    return tr;
  });

  const next = new URLSearchParams(params);
  if (data.next) next.set('cursor', data.next);
  show(
    root,
    form,
    h('p', {}, `${new Date(data.from).toLocaleString()} – ${new Date(data.to).toLocaleString()}. `, exportButton('csv'), ' ', exportButton('ndjson')),
    out,
    rows.length ? table(['time', 'decision', 'reason', 'method', 'path', 'user', 'client'], rows, 'Decisions, newest first: select a row for its trace') : h('p', {}, 'No decision matches.'),
    h(
      'p',
      { class: 'paging' },
      cursor ? h('a', { href: `#/audit?${(() => { const q = new URLSearchParams(params); q.delete('cursor'); return q; })()}` }, 'First page') : null,
      ' ',
      data.next ? h('a', { href: `#/audit?${next}`, id: 'audit-next' }, 'Older →') : null,
    ),
    detail,
  );
}
