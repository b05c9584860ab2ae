// A block's decision rows, written straight from its sealed batch: no object per decision, each interned string looked up once per block.
import { Own, type BatchView } from '../decision-log/batch-view.js';
import { Packer } from '../decision-log/compact.js';
import { addressKey } from '../decision-log/record.js';
import { DetailWriter } from './sqlite-decision-detail.js';
import type { DecisionStatements } from './sqlite-decision-schema.js';
import type { SqliteStrings } from './sqlite-strings.js';

export class DecisionRowWriter {
  /** One per packed column of a row: each binds its own scratch buffer. */
  readonly #packers = { clientIp: new Packer(), peerIp: new Packer(), requestId: new Packer() };
  readonly #details = new DetailWriter();

  constructor(
    private readonly sql: Pick<DecisionStatements, 'insert' | 'insertBlock'>,
    private readonly strings: SqliteStrings,
  ) {}

  /** Insert the block's rows and its time-index row (inside the caller's transaction). */
  insert(position: number, view: BatchView): void {
    const ids = new Map<number, number>();
    const id = (ref: number): number => {
      let stored = ids.get(ref);
      if (stored === undefined) ids.set(ref, (stored = this.strings.intern(view.text(ref))));
      return stored;
    };
    const { clientIp, peerIp, requestId } = this.#packers;
    // Decisions that went the same way through the stages share the id of their stage list;
    // most follow one that did, so the list is looked up only when it changes.
    const stageLists = new Map<string, number>();
    let first = Number.POSITIVE_INFINITY;
    let last = Number.NEGATIVE_INFINITY;
    let trace = 0;
    for (let i = 0; i < view.count; i++) {
      const time = view.time(i);
      if (i === 0 || !view.sameStages(i, i - 1)) trace = this.#stageListId(view, i, stageLists);
      const subject = view.subject(i);
      const client = view.ownRange(i, Own.ClientIp);
      const peer = view.ownRange(i, Own.PeerIp);
      const samePeer = view.bytes.compare(view.bytes, client[0], client[1], peer[0], peer[1]) === 0;
      this.sql.insert.run(
        addressKey(position, i),
        time,
        subject !== 0 ? id(view.username(i)) : null,
        subject !== 0 && view.token(i) !== 0 ? id(view.token(i)) : null,
        subject !== 0 ? id(view.provider(i)) : null,
        view.allow(i) ? 1 : 0,
        view.status(i),
        id(view.reason(i)),
        id(view.method(i)),
        view.own(i, Own.Path),
        clientIp.ip(view.own(i, Own.ClientIp)),
        this.#details.write(
          view.credential(i),
          id(view.host(i)),
          id(view.stage(i)),
          trace,
          view.outcomes(i),
          subject !== 0 ? id(subject) : 0,
          subject !== 0 ? id(view.groups(i)) : 0,
          requestId.requestId(view.own(i, Own.RequestId)),
          samePeer ? undefined : peerIp.ip(view.own(i, Own.PeerIp)),
        ),
      );
      if (time < first) first = time;
      if (time > last) last = time;
    }
    this.sql.insertBlock.run(position, first, last, view.count);
  }

  /** The string id of record i's stage list (a JSON array of the stage names). */
  #stageListId(view: BatchView, i: number, known: Map<string, number>): number {
    const names: string[] = [];
    for (let k = 0; k < view.steps(i); k++) names.push(view.text(view.stageOfStep(i, k)));
    const text = JSON.stringify(names);
    let id = known.get(text);
    if (id === undefined) known.set(text, (id = this.strings.intern(text)));
    return id;
  }
}
