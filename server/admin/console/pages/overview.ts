// Overview: requests over time by decision (uPlot), top denial reasons and callers, and health from /readyz.
import { call, request } from '../api.js';
import { h, show, table } from '../dom.js';

/** uPlot, in a chunk of its own: loaded when the chart is first drawn. */
const loadUPlot = async () => (await import('uplot')).default;

export async function renderOverview(root: HTMLElement): Promise<void> {
  const [{ data: stats }, ready] = await Promise.all([
    call('get', '/api/v1/audit/stats'),
    // 503 is an answer here (not ready), not an error.
    request('get', '/readyz').catch((err: unknown) => err),
  ]);
  const readiness = ready instanceof Response ? ((await ready.json()) as { status: string; checks: Record<string, { ready: boolean; detail?: string }> }) : { status: 'not_ready', checks: {} };
  const chart = h('div', { id: 'requests-chart', class: 'chart' });
  show(
    root,
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Health'),
      h('p', {}, 'Node: ', h('span', { class: readiness.status === 'ready' ? 'ok' : 'warn', id: 'readiness' }, readiness.status)),
      table(['check', 'state', 'detail'], Object.entries(readiness.checks).map(([name, c]) => [name, h('span', { class: c.ready ? 'ok' : 'warn' }, c.ready ? 'ready' : 'not ready'), c.detail ?? ''])),
    ),
    h(
      'section',
      { class: 'panel' },
      h('h2', {}, 'Requests, last 24 hours'),
      h('p', {}, `${stats.total.allow} allowed, ${stats.total.deny} denied.`, stats.truncated ? ' (Top lists truncated.)' : ''),
      chart,
    ),
    h(
      'div',
      { class: 'row' },
      table(['reason', 'count'], stats.topDenialReasons.map((r) => [h('code', {}, r.reason), String(r.count)]), 'Top denial reasons'),
      table(['caller', 'count'], stats.topCallers.map((c) => [c.username, String(c.count)]), 'Top callers'),
      table(['path', 'count'], stats.topPaths.map((p) => [p.path, String(p.count)]), 'Top paths'),
    ),
  );
  const uPlot = await loadUPlot();
  const xs = stats.buckets.map((b) => Date.parse(b.start) / 1000);
  const width = Math.max(320, Math.min(chart.clientWidth || 900, 1100));
  new uPlot(
    {
      width,
      height: 260,
      series: [{}, { label: 'allowed', stroke: '#2b8a3e', fill: 'rgba(43,138,62,0.12)' }, { label: 'denied', stroke: '#c92a2a', fill: 'rgba(201,42,42,0.12)' }],
      axes: [{}, { label: 'requests' }],
    },
    [xs, stats.buckets.map((b) => b.allow), stats.buckets.map((b) => b.deny)],
    chart,
  );
}
