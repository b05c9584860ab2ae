// Simulate: a candidate configuration (the current one, or one handed over from History) re-run over a time range, with progress and the decisions that would change.
import { call, request } from '../api.js';
import { field, h, show, table, when } from '../dom.js';
import { attempt } from '../feedback.js';
import { verdict } from '../trace.js';

const CANDIDATE = 'portcullis.console.candidate';

/** Open Simulate with `document` as the candidate. */
export function offerCandidate(document: unknown, label: string): void {
  sessionStorage.setItem(CANDIDATE, JSON.stringify({ document, label }));
  location.hash = '#/simulate';
}

const toLocalInput = (ms: number): string => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 16);

interface Result {
  decisions: number;
  changed: number;
  transitions: { from: string; to: string; count: number }[];
  samples: { requestId: string; time: string; username?: string; path: string; old: { allow: boolean; reason: string }; new: { allow: boolean; status: number; reason: string; stage: string } }[];
}

export async function renderSimulate(root: HTMLElement): Promise<void> {
  const handed = sessionStorage.getItem(CANDIDATE);
  sessionStorage.removeItem(CANDIDATE);
  let label = 'the current configuration';
  let document: unknown;
  if (handed) ({ document, label } = JSON.parse(handed) as { document: unknown; label: string });
  else document = (await call('get', '/api/v1/settings')).data.document;

  const editor = h('textarea', { id: 'candidate', rows: 16, spellcheck: 'false' }, JSON.stringify(document, null, 2));
  const now = Date.now();
  const from = h('input', { id: 'sim-from', type: 'datetime-local', value: toLocalInput(now - 24 * 3_600_000) });
  const to = h('input', { id: 'sim-to', type: 'datetime-local', value: toLocalInput(now + 60_000) });
  const progress = h('progress', { id: 'sim-progress' });
  progress.hidden = true;
  const status = h('p', { role: 'status', id: 'sim-status' });
  const out = h('div', { class: 'outcome', id: 'sim-result' });
  const run = h('button', { type: 'submit' }, 'Run simulation');
  const form = h(
    'form',
    { class: 'panel' },
    h('p', {}, `Candidate: ${label}. Edit it as JSON; the recorded decisions of the range are re-run through it, read-only.`),
    field('Candidate settings', editor),
    h('div', { class: 'row' }, field('From', from), field('To', to)),
    run,
    progress,
    status,
    out,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    let settings: unknown;
    try {
      settings = JSON.parse(editor.value);
    } catch {
      return void (status.textContent = 'The candidate is not valid JSON.');
    }
    progress.hidden = false;
    progress.removeAttribute('value');
    status.textContent = 'Running…';
    void attempt(
      out,
      async () => {
        const res = await request('post', '/api/v1/simulate', {
          body: { settings, from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() },
          accept: 'application/x-ndjson',
        });
        const result = await readLines(res, (done) => (status.textContent = `${done.toLocaleString()} decisions so far…`));
        progress.hidden = true;
        status.textContent = `Done: ${result.decisions} decisions re-run, ${result.changed} would change.`;
        show(
          out,
          result.transitions.length ? table(['from', 'to', 'count'], result.transitions.map((t) => [t.from, t.to, String(t.count)]), 'Changed outcomes') : h('p', {}, 'No decision would change.'),
          result.samples.length
            ? table(
                ['time', 'user', 'path', 'was', 'would be'],
                result.samples.map((s) => [when(s.time), s.username ?? '—', s.path, h('span', {}, verdict({ allow: s.old.allow }), ' ', s.old.reason), h('span', {}, verdict(s.new), ' ', s.new.reason, ` (${s.new.stage})`)]),
                'Changed decisions (first ones)',
              )
            : null,
        );
      },
      undefined,
      run,
    ).finally(() => (progress.hidden = true));
  });
  show(root, form);
}

/** NDJSON: `{"progress":{decisions}}` lines, then `{"result"}` or `{"error"}`. */
async function readLines(res: Response, onProgress: (decisions: number) => void): Promise<Result> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    buffer += value ?? '';
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = JSON.parse(buffer.slice(0, nl)) as { progress?: { decisions: number }; result?: Result; error?: { code: string; message: string } };
      buffer = buffer.slice(nl + 1);
      if (line.progress) onProgress(line.progress.decisions);
      if (line.result) return line.result;
      if (line.error) throw new Error(`${line.error.code}: ${line.error.message}`);
    }
    if (done) throw new Error('the simulation ended without a result');
  }
}
