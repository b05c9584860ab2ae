// The decision log's intern table in SQLite: each distinct string stored once, referred to by id, with bounded caches both ways.
import type { DecisionStatements } from './sqlite-decision-schema.js';

/**
 * Cache entries kept each way. Past it a cache is emptied and refilled from the table: the cost of
 * a flood of distinct values (new JWT ids on every request) is lookups, never memory.
 */
const MAX_CACHED = 50_000;

export class SqliteStrings {
  /** Ids committed to the store. */
  readonly #ids = new Map<string, number>();
  /** Ids found or inserted by the open transaction: cached only once it commits. */
  readonly #pending = new Map<string, number>();
  readonly #texts = new Map<number, string>();

  constructor(private readonly sql: Pick<DecisionStatements, 'findString' | 'addString' | 'stringText'>) {}

  /** The id of `text`, inserted if it is new. Inside a write transaction; call {@link settle} after it. */
  intern(text: string): number {
    const known = this.#ids.get(text) ?? this.#pending.get(text);
    if (known !== undefined) return known;
    const id = this.sql.findString.get(text) ?? this.sql.addString.get(text)!;
    this.#pending.set(text, id);
    return id;
  }

  /** After the write transaction: keep its ids when it committed, forget them when it rolled back. */
  settle(committed: boolean): void {
    if (committed) {
      if (this.#ids.size + this.#pending.size > MAX_CACHED) this.#ids.clear();
      for (const [text, id] of this.#pending) this.#ids.set(text, id);
    }
    this.#pending.clear();
  }

  /** The id of `text` when it is stored, without inserting it (read filters). */
  find(text: string): number | undefined {
    return this.#ids.get(text) ?? this.sql.findString.get(text);
  }

  /** The text of an id the store handed out. */
  text(id: number): string {
    let text = this.#texts.get(id);
    if (text === undefined) {
      text = this.sql.stringText.get(id);
      if (text === undefined) throw new Error(`decision log: string ${id} is missing from decision_strings`);
      if (this.#texts.size >= MAX_CACHED) this.#texts.clear();
      this.#texts.set(id, text);
    }
    return text;
  }
}
