// How the console shows the outcome of a call: the API's error code and description, the fields it named, and a reload choice on 412.
import { ApiError } from './api.js';
import { h, show } from './dom.js';

/** Render `err` into `slot`. A 412 offers `reload` (the data changed since it was read). */
export function showError(slot: Element, err: unknown, reload?: () => void): void {
  if (!(err instanceof ApiError)) {
    show(slot, h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'network_error'), ' ', String(err instanceof Error ? err.message : err)));
    return;
  }
  show(
    slot,
    h(
      'div',
      { class: 'error', role: 'alert', 'data-code': err.code },
      h('strong', { class: 'code' }, err.code),
      ` (${err.status}) `,
      h('span', { class: 'description' }, err.description),
      err.fields.length ? h('ul', {}, err.fields.map((f) => h('li', {}, h('code', {}, f.path), ': ', f.message))) : null,
      err.status === 412 && reload
        ? h('p', {}, 'Someone changed this since you loaded it. ', h('button', { type: 'button', class: 'reload', onclick: reload }, 'Reload and discard my edits'))
        : null,
      err.requestId ? h('small', { class: 'request-id' }, ` request ${err.requestId}`) : null,
    ),
  );
}

export function showDone(slot: Element, text: string): void {
  show(slot, h('div', { class: 'done', role: 'status' }, text));
}

/** Run `action`, showing its error (or `done`) in `slot`; the button is disabled meanwhile. */
export async function attempt(slot: Element, action: () => Promise<string | void>, reload?: () => void, button?: HTMLButtonElement): Promise<boolean> {
  if (button) button.disabled = true;
  show(slot);
  try {
    const done = await action();
    if (done) showDone(slot, done);
    return true;
  } catch (err) {
    showError(slot, err, reload);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}
