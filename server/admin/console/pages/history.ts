// History: the configuration timeline with each change as a diff, the whole configuration as of a chosen time, and a way to simulate it.
import { call } from '../api.js';
import { field, h, json, show, table, when } from '../dom.js';
import { attempt } from '../feedback.js';
import { offerCandidate } from './simulate.js';

const value = (v: unknown): string => (v === undefined ? '—' : JSON.stringify(v));

export async function renderHistory(root: HTMLElement, params: URLSearchParams): Promise<void> {
  const before = params.get('before') ?? undefined;
  const { data } = await call('get', '/api/v1/history', { query: { before, limit: '25' } });
  const asOf = h('section', { class: 'panel', id: 'as-of' });
  const asOfInput = h('input', { id: 'as-of-input', placeholder: '2026-12-01T09:00:00Z or a position', value: params.get('asOf') ?? '' });
  const asOfForm = h('form', { class: 'filters' }, field('Configuration as of', asOfInput, 'An ISO 8601 time or an event position'), h('button', { type: 'submit' }, 'Show'));
  asOfForm.addEventListener('submit', (event) => {
    event.preventDefault();
    void showAsOf(asOf, asOfInput.value.trim());
  });

  const entries = data.entries.map((e) =>
    h(
      'li',
      { class: 'entry', 'data-position': e.position, 'data-type': e.type },
      h('p', {}, h('strong', {}, when(e.time)), ' · ', h('code', {}, e.type), ' · by ', e.actor ?? 'unknown', e.sourceIp ? ` from ${e.sourceIp}` : '', ' · ', e.summary),
      e.changes.length ? table(['path', 'before', 'after'], e.changes.map((c) => [h('code', {}, c.path), h('del', {}, value(c.old)), h('ins', {}, value(c.new))])) : null,
      h(
        'button',
        {
          type: 'button',
          class: 'before-this',
          onclick: () => {
            // The state as of the event just before this one.
            const at = (BigInt(e.position) - 1n).toString();
            asOfInput.value = at;
            void showAsOf(asOf, at);
          },
        },
        'Configuration before this change',
      ),
    ),
  );
  const next = new URLSearchParams(params);
  if (data.next) next.set('before', data.next);
  show(
    root,
    verifyPanel(),
    asOfForm,
    asOf,
    h('h2', {}, 'Changes, newest first'),
    entries.length ? h('ol', { class: 'timeline' }, entries) : h('p', {}, 'No change recorded yet.'),
    data.next ? h('p', {}, h('a', { href: `#/history?${next}` }, 'Older →')) : null,
  );
  asOf.hidden = true;
  if (params.get('asOf')) void showAsOf(asOf, params.get('asOf')!);
}

/** `portcullis verify` through the API: the hash chain and the signed checkpoints in the store. */
function verifyPanel(): HTMLElement {
  const out = h('div', { class: 'outcome', id: 'verify-result' });
  const run = h('button', { type: 'button', id: 'verify' }, 'Verify the history');
  run.addEventListener('click', () =>
    void attempt(out, async () => {
      const { data: v } = await call('get', '/api/v1/verify');
      const c = v.checkpoints;
      show(
        out,
        v.ok
          ? h('p', { class: 'ok' }, `Intact: hash chain checked over ${v.events} events; ${c.stored ? `${c.stored} signed checkpoint(s) in the store, ${c.matched} matching${c.anchoredThrough ? `, the last at position ${c.anchoredThrough}` : ''}` : 'no signed checkpoint in the store yet'}.`)
          : h('div', { class: 'error', role: 'alert' }, h('strong', {}, `Not intact: ${v.problem?.kind ?? 'problem'}`), json(v.problem)),
      );
    }, undefined, run),
  );
  return h('section', { class: 'panel' }, h('h2', {}, 'Verify'), h('p', {}, 'Checks the hash chain from the first event to the last, and the signed checkpoints kept in the store (as portcullis verify does; an exported checkpoint file is checked with the CLI).'), run, out);
}

async function showAsOf(slot: HTMLElement, point: string): Promise<void> {
  slot.hidden = false;
  const named = /^\d+$/.test(point) ? `position ${point}` : point;
  await attempt(slot, async () => {
    const { data } = await call('get', '/api/v1/state', { query: { asOf: point } });
    const document = data.settings.document;
    show(
      slot,
      h('h2', {}, `Configuration as of ${named}`),
      h('p', {}, data.asOf?.lastChange ? `Last change before it: position ${data.asOf.lastChange.position} at ${when(data.asOf.lastChange.time)}. ` : 'Before any change. ', `Settings revision ${data.settings.revision}; state hash `, h('code', {}, data.hash.slice(0, 16)), '…'),
      h('button', { type: 'button', id: 'simulate-this', onclick: () => offerCandidate(document, `the configuration as of ${named}`) }, 'Simulate this configuration'),
      h('h3', {}, 'Settings document'),
      json(document),
      h('h3', {}, 'Providers'),
      table(['id', 'kind', 'enabled', 'revision'], data.providers.map((p) => [p.id, p.kind, p.enabled ? 'yes' : 'no', String(p.revision)])),
      h('p', {}, `${data.tokens.length} token(s) issued by then.`),
    );
  });
}
