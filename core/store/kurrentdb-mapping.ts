// The KurrentDB store's mapping, without a server: its URL, stream names, Portcullis events as KurrentDB events and back, stream metadata.
import { createHash } from 'node:crypto';

import type { DecisionRecord } from '../decision-log/record.js';
import type { EventMetadata, Position, RecordedEvent, SerializedEvent } from './port.js';

export interface KurrentTarget {
  /** What the client connects with (`kurrentdb://…`), without Portcullis's own parameters. */
  readonly connectionString: string;
  /** Every Portcullis stream is `<namespace>.<stream>`; the store's own streams are `<namespace>~…`. */
  readonly namespace: string;
  /** Host list for messages, never the credentials. */
  readonly where: string;
}

const NAMESPACE = /^[a-z][a-z0-9_-]{0,47}$/;

/** `kurrentdb://`, `kurrent://`, `kdb://` (and their `+discover` forms) and the older `esdb://`. */
export function isKurrentUrl(url: string): boolean {
  return /^(kurrentdb|kurrent|kdb|esdb)(\+discover)?:\/\//i.test(url);
}

/**
 * @example parseKurrentUrl('esdb://admin:changeit@db1:2113,db2:2113?tls=true&namespace=edge')
 *   // { connectionString: 'kurrentdb://admin:changeit@db1:2113,db2:2113?tls=true', namespace: 'edge', where: 'db1:2113,db2:2113' }
 * @throws TypeError for a URL that is not one, or a bad namespace (never echoing the password)
 */
export function parseKurrentUrl(url: string): KurrentTarget {
  const match = /^(kurrentdb|kurrent|kdb|esdb)(\+discover)?:\/\/(?:[^@/?]*@)?([^/?@]+)\/?(?:\?(.*))?$/i.exec(url);
  if (!match) throw new TypeError('KurrentDB store URL must look like kurrentdb://[user:password@]host:port[,host:port…][?options]');
  const [, , discover = '', hosts = '', query = ''] = match;
  const params = new URLSearchParams(query);
  const namespace = params.get('namespace') ?? 'portcullis';
  if (!NAMESPACE.test(namespace)) throw new TypeError('namespace must be 1 to 48 of a-z, 0-9, _ and -, starting with a letter');
  params.delete('namespace');
  const rest = params.toString();
  // The client warns on the deprecated esdb scheme; it is the same protocol.
  const scheme = `kurrentdb${discover.toLowerCase()}`;
  const head = url.slice(url.indexOf('://') + 3).split(/[/?]/, 1)[0] ?? '';
  return { connectionString: `${scheme}://${head}${rest ? `?${rest}` : ''}`, namespace, where: hosts };
}

/** Stream names in KurrentDB. */
export const kurrentStream = (namespace: string, stream: string): string => `${namespace}.${stream}`;
export const chainStream = (namespace: string): string => `${namespace}~chain`;
export const checkpointStream = (namespace: string, name: string): string => `${namespace}~checkpoint~${name}`;

/** The Portcullis stream of a KurrentDB stream, or undefined for one that is not in the namespace. */
export function portcullisStream(namespace: string, stream: string): string | undefined {
  return stream.startsWith(`${namespace}.`) ? stream.slice(namespace.length + 1) : undefined;
}

/**
 * KurrentDB wants a UUID per event; Portcullis ids are any string. The UUID is derived from the
 * id (sha256, shaped as an RFC 9562 version 8 UUID), the id itself kept in the metadata.
 */
export function eventUuid(id: string): string {
  const bytes = createHash('sha256').update(id, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** What the store adds to an event when it writes it: its place in the chain. */
export interface ChainFields {
  readonly sequence: number;
  /**
   * The event's revision in its Portcullis stream. Not KurrentDB's: after a deletion (`$tb`)
   * KurrentDB goes on counting where the stream was, while a deleted stream starts again at 0
   * on every store; the difference is constant from the first event after the deletion on.
   */
  readonly revision: number;
  readonly time: string;
  readonly prevHash: string;
  readonly hash: string;
  /** A block's decisions, beside its event (not in the hash, as the other stores keep them beside it). */
  readonly decisions?: readonly DecisionRecord[];
}

/** The metadata keys (multi-stream appends take string values only). */
const KEY = {
  id: 'portcullis-id',
  sequence: 'portcullis-position',
  revision: 'portcullis-revision',
  time: 'portcullis-time',
  prevHash: 'portcullis-prev-hash',
  hash: 'portcullis-hash',
  metadata: 'portcullis-metadata',
  decisions: 'portcullis-decisions',
} as const;

export interface KurrentEventData {
  readonly id: string;
  readonly contentType: 'application/json';
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Record<string, string>;
}

/** A Portcullis event (its data and metadata canonical JSON text) as the KurrentDB event written for it. */
export function toKurrentEvent(event: SerializedEvent, chain: ChainFields): KurrentEventData {
  const metadata: Record<string, string> = {
    [KEY.id]: event.id,
    [KEY.sequence]: String(chain.sequence),
    [KEY.revision]: String(chain.revision),
    [KEY.time]: chain.time,
    [KEY.prevHash]: chain.prevHash,
    [KEY.hash]: chain.hash,
    [KEY.metadata]: event.metadata,
  };
  if (chain.decisions) metadata[KEY.decisions] = JSON.stringify(chain.decisions);
  // The client serialises data with JSON.stringify: parsing the canonical text gives it back byte for byte.
  return { id: eventUuid(event.id), contentType: 'application/json', type: event.type, data: JSON.parse(event.data) as unknown, metadata };
}

/** The fields of a KurrentDB recorded event this mapping reads. */
export interface KurrentRecorded {
  readonly streamId: string;
  readonly revision: bigint;
  readonly type: string;
  readonly isJson: boolean;
  readonly data: unknown;
  readonly metadata: unknown;
}

/** What a read finds: the event, a block's decisions, and the event's revision in KurrentDB's count. */
export interface MappedEvent {
  readonly event: RecordedEvent;
  readonly decisions?: DecisionRecord[];
  readonly kurrentRevision: bigint;
}

/** A recorded KurrentDB event as Portcullis's, with a block's decisions; undefined for an event Portcullis did not write. */
export function fromKurrentEvent(namespace: string, e: KurrentRecorded): MappedEvent | undefined {
  const stream = portcullisStream(namespace, e.streamId);
  const meta = metadataObject(e.metadata);
  if (stream === undefined || meta === undefined) return undefined;
  const field = (key: string): string | undefined => (typeof meta[key] === 'string' ? (meta[key] as string) : undefined);
  const id = field(KEY.id);
  const sequence = field(KEY.sequence);
  const revision = field(KEY.revision);
  const time = field(KEY.time);
  const prevHash = field(KEY.prevHash);
  const hash = field(KEY.hash);
  const metadata = field(KEY.metadata);
  if (id === undefined || sequence === undefined || !/^[1-9]\d{0,15}$/.test(sequence) || revision === undefined || !/^(0|[1-9]\d{0,9})$/.test(revision) || time === undefined || prevHash === undefined || hash === undefined || metadata === undefined) {
    return undefined;
  }
  const data = e.isJson ? e.data : JSON.parse(Buffer.from(e.data as Uint8Array).toString('utf8'));
  const event: RecordedEvent = {
    id,
    type: e.type,
    stream,
    revision: Number(revision),
    position: sequence as Position,
    time,
    data,
    metadata: JSON.parse(metadata) as EventMetadata,
    prevHash,
    hash,
  };
  const decisions = field(KEY.decisions);
  return decisions === undefined ? { event, kurrentRevision: e.revision } : { event, decisions: JSON.parse(decisions) as DecisionRecord[], kurrentRevision: e.revision };
}

/** Metadata as the client hands it over: parsed JSON, or bytes when it could not tell. */
function metadataObject(metadata: unknown): Record<string, unknown> | undefined {
  let value = metadata;
  if (value instanceof Uint8Array) {
    try {
      value = JSON.parse(Buffer.from(value).toString('utf8'));
    } catch {
      return undefined;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** KurrentDB's system metadata of a stream, as the client names it. */
export interface StreamMetadataFields {
  readonly maxAge?: number;
  readonly maxCount?: number;
  readonly truncateBefore?: number | 'start' | 'end';
  readonly [key: string]: unknown;
}

/**
 * A deletion as stream metadata: `$tb` (truncate before) past the stream's last revision hides
 * every event and lets the scavenger reclaim them; the stream's other metadata is kept, and an
 * append after it continues the revisions (KurrentDB's soft delete).
 */
export function deletionMetadata(current: StreamMetadataFields, lastRevision: number): StreamMetadataFields {
  return { ...current, truncateBefore: lastRevision + 1 };
}

/** A projection checkpoint's stream keeps its newest event only (`$maxCount` 1): a save replaces the one before. */
export const CHECKPOINT_METADATA: StreamMetadataFields = { maxCount: 1 };
