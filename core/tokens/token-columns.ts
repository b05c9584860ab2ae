// The token index's fixed-size fields: one growable typed array per field, a token's values at its slot (a few bytes each, no object per token).
import { ensure, growable, type Growable } from './growable.js';
import { pack, unpack } from './packed.js';

/** Bits of the `flags` column. */
export const READ_ONLY = 1;
/** Set when `expiresAt` holds an instant; clear: never expires. */
export const EXPIRES = 2;
/** Set when `revokedAt` and `revokedBy` hold the first revocation. */
export const REVOKED = 4;

const SAVED = [
  'flags', 'owner', 'kind', 'createdBy', 'revokedBy', 'groups', 'pathPrefixes', 'ipAllow', 'expiresAt', 'createdAt', 'revokedAt', 'revision',
] as const;
type Saved = (typeof SAVED)[number];
const NAMES = [...SAVED, 'nextOfOwner'] as const;

/** The checkpoint form: each saved column packed. */
export type SavedColumns = Readonly<Record<Saved, string>>;

export class TokenColumns {
  flags = growable(Uint8Array);
  /** Numbers in the index's StringTable (revokedBy: number + 1, 0 for none). */
  owner = growable(Uint32Array);
  kind = growable(Uint32Array);
  createdBy = growable(Uint32Array);
  revokedBy = growable(Uint32Array);
  /** Numbers in the index's ListTable. */
  groups = growable(Uint32Array);
  pathPrefixes = growable(Uint32Array);
  ipAllow = growable(Uint32Array);
  /** Milliseconds since the epoch. */
  expiresAt = growable(Float64Array);
  createdAt = growable(Float64Array);
  revokedAt = growable(Float64Array);
  /** A token stream's revision: its events, less one (an issue and a revocation or a few). */
  revision = growable(Uint32Array);
  /** The owner's next token, as slot + 1 (0: none): lists by owner without an array per owner. Not saved; rebuilt. */
  nextOfOwner = growable(Uint32Array);

  /** Room for slots 0 … count - 1; read the arrays again afterwards (past its reservation, one is replaced). */
  reserve(count: number): void {
    if (count <= this.flags.length) return;
    for (const name of NAMES) (this as Record<(typeof NAMES)[number], Growable>)[name] = ensure(this[name], count);
  }

  snapshot(count: number): SavedColumns {
    return Object.fromEntries(SAVED.map((name) => [name, pack(this[name].subarray(0, count))])) as Record<Saved, string>;
  }

  /** Columns for `count` slots from `snapshot(count)`, or undefined when they do not fit. */
  static restore(count: number, saved: unknown): TokenColumns | undefined {
    if (typeof saved !== 'object' || saved === null) return undefined;
    const columns = new TokenColumns();
    columns.reserve(count);
    const packed = saved as Partial<Record<Saved, unknown>>;
    return SAVED.every((name) => unpack(packed[name], columns[name].subarray(0, count))) ? columns : undefined;
  }
}
