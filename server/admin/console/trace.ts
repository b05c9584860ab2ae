// A decision as an admin reads it: verdict, reason, identity, and the trace of the stages it went through.
import type { TraceEntry } from './api.js';
import { h, table } from './dom.js';

export interface DecisionView {
  readonly allow: boolean;
  readonly status: number;
  readonly reason: string;
  readonly stage: string;
  readonly description?: string;
}

export const verdict = (d: { allow: boolean; status?: number }): HTMLElement =>
  h('span', { class: d.allow ? 'verdict allow' : 'verdict deny' }, `${d.allow ? 'allow' : 'deny'}${d.status ? ` ${d.status}` : ''}`);

export function decisionBlock(d: DecisionView, trace: readonly TraceEntry[], identity?: Readonly<Record<string, unknown>> | null): HTMLElement {
  return h(
    'section',
    { class: 'decision' },
    h('p', {}, verdict(d), ' ', h('code', { class: 'reason' }, d.reason), ' by stage ', h('code', {}, d.stage), d.description ? ` — ${d.description}` : ''),
    identity ? h('dl', { class: 'identity' }, Object.entries(identity).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v))])) : null,
    table(
      ['stage', 'outcome', 'reason', 'detail'],
      trace.map((t) => [t.stage, t.outcome, t.reason ?? '', t.detail ?? '']),
      'Decision trace',
    ),
  );
}
