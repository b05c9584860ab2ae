// Building DOM without innerHTML: every value becomes text or a property, never markup.
export type Child = Node | string | number | null | undefined | false | readonly Child[];
type Handler = (event: Event) => void;
export type Attrs = Readonly<Record<string, string | number | boolean | null | undefined | Handler>>;

/** `h('button', { onclick: go, class: 'primary' }, 'Save')`. `on*` attributes are listeners; value, checked and disabled are properties. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'value' || name === 'checked' || name === 'disabled') (el as unknown as Record<string, unknown>)[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace what `parent` shows. */
export function show(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export const json = (value: unknown): HTMLPreElement => h('pre', { class: 'json' }, JSON.stringify(value, null, 2));

export function table(headers: readonly string[], rows: readonly (readonly Child[] | HTMLTableRowElement)[], caption?: string): HTMLTableElement {
  return h(
    'table',
    {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
    h(
      'tbody',
      {},
      rows.map((r) => (r instanceof HTMLTableRowElement ? r : h('tr', {}, r.map((c) => h('td', {}, c))))),
    ),
  );
}

/** A button that copies `text` and says whether it could. */
export function copyButton(text: () => string, label = 'Copy'): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'copy' }, label);
  button.addEventListener('click', () => {
    navigator.clipboard.writeText(text()).then(
      () => (button.textContent = 'Copied'),
      () => (button.textContent = 'Copy failed: select and copy by hand'),
    );
  });
  return button;
}

/** A labelled form control; `hint` under it, and a slot for its validation message. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', { class: 'label' }, label), control, hint ? h('small', { class: 'hint' }, hint) : null, h('small', { class: 'problem', 'aria-live': 'polite' }));
}

/** Show (or clear) a field's problem next to it. */
export function mark(control: HTMLElement, problem: string | undefined): void {
  const slot = control.closest('.field')?.querySelector('.problem');
  if (slot) slot.textContent = problem ?? '';
  control.setAttribute('aria-invalid', problem ? 'true' : 'false');
}

export const lines = (text: string): string[] =>
  text
    .split(/\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');

export const when = (iso: string | null | undefined): string => (iso ? new Date(iso).toLocaleString() : '—');
