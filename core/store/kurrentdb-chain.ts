// The KurrentDB store's chain stream as a node holds it in memory: the order of appends, the ids stored, deleted streams, where to start in $all.
import { END, START, type Position as KurrentPosition, type ReadPosition } from '@kurrent/kurrentdb-client';

/** One record of the chain stream: an append (the positions it took, the ids it stored, the head after it) or a deletion. */
export interface ChainRecord {
  readonly kind: 'appended' | 'deleted';
  /** Appended: the events' ids by stream, in position order from `first`. Deleted: the stream, with no ids. */
  readonly streams: readonly { readonly stream: string; readonly ids: readonly string[] }[];
  /** The first and last position the append took (a deletion: the head's, unchanged). */
  readonly first: number;
  readonly last: number;
  /** The hash the next event chains to. */
  readonly hash: string;
}

export interface ChainEntry extends ChainRecord {
  /** The record's revision in the chain stream. */
  readonly revision: bigint;
  /** The record's place in $all; absent if the server did not say (reads then start at an end of $all). */
  readonly at: KurrentPosition | undefined;
}

/** Checks a chain record read back (a stream anyone with write access could append to). */
export function isChainRecord(data: unknown): data is ChainRecord {
  const r = data as Partial<ChainRecord> | null;
  return (
    typeof r === 'object' && r !== null && (r.kind === 'appended' || r.kind === 'deleted') && Array.isArray(r.streams) &&
    r.streams.every((w) => typeof w?.stream === 'string' && Array.isArray(w.ids) && w.ids.every((id: unknown) => typeof id === 'string')) &&
    Number.isSafeInteger(r.first) && Number.isSafeInteger(r.last) && typeof r.hash === 'string'
  );
}

export class ChainView {
  readonly #entries: ChainEntry[] = [];
  readonly #ids = new Map<string, { stream: string; position: number }>();
  /** A deleted stream's events at or below this position are gone ($all keeps showing them until the scavenger runs). */
  readonly #deletedThrough = new Map<string, number>();

  /** The last record, or undefined for a store that has none yet. */
  get head(): ChainEntry | undefined {
    return this.#entries.at(-1);
  }

  /** Where an id was stored, if it is. */
  stored(id: string): { readonly stream: string; readonly position: number } | undefined {
    return this.#ids.get(id);
  }

  /** True for an event of a deleted stream that $all still shows. */
  deleted(stream: string, position: number): boolean {
    return position <= (this.#deletedThrough.get(stream) ?? 0);
  }

  add(entry: ChainEntry): void {
    this.#entries.push(entry);
    if (entry.kind === 'deleted') {
      const streams = new Set(entry.streams.map((w) => w.stream));
      for (const stream of streams) this.#deletedThrough.set(stream, entry.last);
      for (const [id, where] of this.#ids) if (streams.has(where.stream)) this.#ids.delete(id);
      return;
    }
    let position = entry.first;
    for (const { stream, ids } of entry.streams) for (const id of ids) this.#ids.set(id, { stream, position: position++ });
  }

  /**
   * Where in $all to start reading forwards for positions after `after`: at the record of the
   * append before the one holding `after + 1` (appends follow one another, so all of that one's
   * events lie after it).
   */
  startAfter(after: number): ReadPosition {
    const i = this.#entries.findIndex((r) => r.last > after);
    if (i <= 0) return START;
    return this.#entries[i - 1]!.at ?? START;
  }

  /** Where in $all to start reading backwards for positions before `before`: at the record of the first append at or past it. */
  startBefore(before: number): ReadPosition {
    const i = this.#entries.findIndex((r) => r.kind === 'appended' && r.first >= before);
    return i < 0 ? END : (this.#entries[i]!.at ?? END);
  }
}
