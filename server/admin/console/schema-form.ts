// A form drawn from a JSON Schema (a provider kind's configuration): one control per property, checked as the admin types.
import { field, h, mark } from './dom.js';

export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly anyOf?: readonly JsonSchema[];
  readonly items?: JsonSchema;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly default?: unknown;
  readonly description?: string;
  readonly pattern?: string;
  readonly format?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
}

type Shape = 'boolean' | 'enum' | 'number' | 'string' | 'list' | 'json';

const types = (s: JsonSchema): string[] => (s.type === undefined ? [] : typeof s.type === 'string' ? [s.type] : [...s.type]);

function shapeOf(s: JsonSchema): Shape {
  if (s.enum) return 'enum';
  const t = types(s);
  if (t.includes('boolean')) return 'boolean';
  if (t.includes('integer') || t.includes('number')) return 'number';
  if (t.includes('string')) return 'string';
  const stringy = (x: JsonSchema) => types(x).includes('string') || (types(x).includes('array') && x.items !== undefined && types(x.items).includes('string'));
  if (t.includes('array') && s.items && types(s.items).includes('string')) return 'list';
  if (s.anyOf && s.anyOf.every(stringy)) return 'list';
  return 'json';
}

/** The item schema strings in a list must meet (`requiredScopes[]`, each audience). */
const itemOf = (s: JsonSchema): JsonSchema | undefined => s.items ?? s.anyOf?.find((x) => types(x).includes('string'));
const allowsSingle = (s: JsonSchema): boolean => !!s.anyOf?.some((x) => types(x).includes('string'));

function stringProblem(value: string, s: JsonSchema | undefined): string | undefined {
  if (!s) return undefined;
  if (s.minLength !== undefined && value.length < s.minLength) return `at least ${s.minLength} characters`;
  if (s.maxLength !== undefined && value.length > s.maxLength) return `at most ${s.maxLength} characters`;
  if (s.pattern && !new RegExp(s.pattern, 'u').test(value)) return 'not in the expected form';
  if (s.format === 'uri') {
    try {
      new URL(value);
    } catch {
      return 'not a URL';
    }
  }
  return undefined;
}

export interface SchemaForm {
  readonly element: HTMLElement;
  /** The configuration the form holds; undefined (with the problems marked) when some field is not valid. */
  value(): Record<string, unknown> | undefined;
  /** Set one field, as a pick from the username-attribute helper does. */
  set(name: string, value: unknown): void;
  /** Mark the problems the API named (`config.issuer` …). */
  markFields(fields: readonly { path: string; message: string }[]): void;
}

interface Control {
  readonly name: string;
  readonly input: HTMLInputElement | HTMLSelectElement;
  read(): { ok: true; value: unknown } | { ok: false; problem: string };
  write(value: unknown): void;
}

/** `secret` fields are password inputs; their stored value comes back masked and is kept when sent back unchanged. */
export function schemaForm(schema: JsonSchema, initial: Readonly<Record<string, unknown>>, secretFields: readonly string[]): SchemaForm {
  const required = new Set(schema.required ?? []);
  const controls: Control[] = [];
  const element = h('fieldset', { class: 'schema-form' }, h('legend', {}, 'Configuration'));

  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    const shape = shapeOf(prop);
    const id = `cfg-${name}`;
    let input: HTMLInputElement | HTMLSelectElement;
    let hint = prop.description ?? '';
    if (shape === 'boolean') input = h('input', { type: 'checkbox', id, name });
    else if (shape === 'enum') input = h('select', { id, name }, h('option', { value: '' }, '(default)'), (prop.enum ?? []).map((v) => h('option', { value: String(v) }, String(v))));
    else {
      input = h('input', { type: shape === 'number' ? 'number' : secretFields.includes(name) ? 'password' : 'text', id, name, autocomplete: 'off', spellcheck: 'false' });
      if (shape === 'list') hint = `${hint ? `${hint}. ` : ''}${allowsSingle(prop) ? 'One value, or several' : 'Values'} separated by commas`;
      if (shape === 'json') hint = `${hint ? `${hint}. ` : ''}JSON`;
    }
    if (prop.default !== undefined && input instanceof HTMLInputElement && input.type !== 'checkbox') input.placeholder = `default: ${Array.isArray(prop.default) ? prop.default.join(', ') : String(prop.default)}`;
    if (required.has(name)) input.setAttribute('aria-required', 'true');

    const control: Control = {
      name,
      input,
      read() {
        if (input instanceof HTMLInputElement && input.type === 'checkbox') return { ok: true, value: input.checked === (prop.default === true) ? undefined : input.checked };
        const text = input.value.trim();
        if (text === '') return required.has(name) ? { ok: false, problem: 'required' } : { ok: true, value: undefined };
        if (shape === 'number') {
          const n = Number(text);
          if (!Number.isFinite(n) || (types(prop).includes('integer') && !Number.isInteger(n))) return { ok: false, problem: 'not a number' };
          if (prop.minimum !== undefined && n < prop.minimum) return { ok: false, problem: `at least ${prop.minimum}` };
          if (prop.maximum !== undefined && n > prop.maximum) return { ok: false, problem: `at most ${prop.maximum}` };
          return { ok: true, value: n };
        }
        if (shape === 'list') {
          const items = text.split(',').map((v) => v.trim()).filter((v) => v !== '');
          const bad = items.map((v) => stringProblem(v, itemOf(prop))).find((p) => p !== undefined);
          if (bad) return { ok: false, problem: bad };
          return { ok: true, value: items.length === 1 && allowsSingle(prop) ? items[0] : items };
        }
        if (shape === 'json') {
          try {
            return { ok: true, value: JSON.parse(text) };
          } catch {
            return { ok: false, problem: 'not valid JSON' };
          }
        }
        const problem = secretFields.includes(name) && text === '********' ? undefined : stringProblem(text, prop);
        return problem ? { ok: false, problem } : { ok: true, value: text };
      },
      write(value) {
        if (input instanceof HTMLInputElement && input.type === 'checkbox') input.checked = value === undefined ? prop.default === true : value === true;
        else if (value === undefined || value === null) input.value = '';
        else if (shape === 'list' && Array.isArray(value)) input.value = value.join(', ');
        else input.value = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
      },
    };
    control.write(initial[name]);
    const check = () => {
      const r = control.read();
      mark(input, r.ok ? undefined : r.problem);
    };
    input.addEventListener('input', check);
    input.addEventListener('change', check);
    controls.push(control);
    element.append(field(`${name}${required.has(name) ? ' *' : ''}`, input, hint || undefined));
  }

  // Keys the schema does not describe (a plugin without JSON Schema): kept as they were.
  const known = new Set(controls.map((c) => c.name));
  const rest = Object.fromEntries(Object.entries(initial).filter(([k]) => !known.has(k)));

  return {
    element,
    value() {
      const out: Record<string, unknown> = { ...rest };
      let ok = true;
      for (const c of controls) {
        const r = c.read();
        mark(c.input, r.ok ? undefined : r.problem);
        if (!r.ok) ok = false;
        else if (r.value !== undefined) out[c.name] = r.value;
      }
      return ok ? out : undefined;
    },
    set(name, value) {
      const c = controls.find((x) => x.name === name);
      if (!c) return;
      c.write(value);
      c.input.dispatchEvent(new Event('input'));
    },
    markFields(fields) {
      for (const f of fields) {
        const name = f.path.replace(/^config\./, '').split(/[.[]/)[0];
        const c = controls.find((x) => x.name === name);
        if (c) mark(c.input, f.message);
      }
    },
  };
}
