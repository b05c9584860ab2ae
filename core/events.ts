// The configuration events: their types, their streams, and the data each carries (never a secret in clear).
import type { JsonObject } from './settings/merge-patch.js';

export const SETTINGS_STREAM = 'settings';
export const ADMIN_STREAM = 'admin';
export const PROVIDER_STREAM_PREFIX = 'provider-';
export const ACCESS_STREAM_PREFIX = 'access-';
/** One stream per gateway token (`token-<id>`): kept forever, like the configuration streams. */
export const TOKEN_STREAM_PREFIX = 'token-';
/** Rotations of the keys that sign identity assertions (the keys themselves live outside the store). */
export const ASSERTION_KEYS_STREAM = 'assertion-keys';

/** Streams the configuration projection reads; access streams are left out so start-up stays fast. */
export const CONFIG_STREAM_PREFIXES = [SETTINGS_STREAM, ADMIN_STREAM, PROVIDER_STREAM_PREFIX, ASSERTION_KEYS_STREAM] as const;

/** Streams the token index reads: neither configuration nor access streams. */
export const TOKEN_STREAM_PREFIXES = [TOKEN_STREAM_PREFIX] as const;

export const providerStream = (id: string): string => `${PROVIDER_STREAM_PREFIX}${id}`;
export const tokenStream = (id: string): string => `${TOKEN_STREAM_PREFIX}${id}`;

const DAY_MS = 86_400_000;
let streamOfDay = { day: Number.NaN, stream: '' };

/** Day-partitioned access stream (UTC), so retention drops whole days. Named once per day, not per event. */
export function accessStream(timeMs: number): string {
  const day = Math.floor(timeMs / DAY_MS);
  if (day !== streamOfDay.day) streamOfDay = { day, stream: `${ACCESS_STREAM_PREFIX}${new Date(timeMs).toISOString().slice(0, 10)}` };
  return streamOfDay.stream;
}

export interface SettingsChanged {
  readonly type: 'SettingsChanged';
  /** The JSON merge patch an admin applied to the settings document. */
  readonly data: { readonly patch: JsonObject };
}

export interface ProviderConfiguration {
  readonly id: string;
  readonly kind: string;
  readonly config: JsonObject;
  readonly enabled: boolean;
  readonly order: number;
}

export interface ProviderConfigured {
  readonly type: 'ProviderConfigured';
  readonly data: ProviderConfiguration;
}

export interface ProviderRemoved {
  readonly type: 'ProviderRemoved';
  readonly data: { readonly id: string };
}

export interface AdminTokenCreated {
  readonly type: 'AdminTokenCreated';
  /** sha256 of the token, hex. */
  readonly data: { readonly sha256: string };
}

/**
 * A key that signs identity assertions was added to the key file: gateways read the file again and
 * publish it at once; it signs from `activeFrom`. Only public data: the private key never enters the store.
 */
export interface AssertionKeyRotated {
  readonly type: 'AssertionKeyRotated';
  readonly data: {
    readonly kid: string;
    /** ISO 8601. */
    readonly activeFrom: string;
    /** Keys that stop signing then, and when each stops being published (ISO 8601). */
    readonly retiring: readonly { readonly kid: string; readonly retireAt: string }[];
  };
}

export type ConfigEvent = SettingsChanged | ProviderConfigured | ProviderRemoved | AdminTokenCreated | AssertionKeyRotated;

/** What a gateway token is: everything but the secret, which is never stored (only its sha256). */
export interface TokenIssuedData {
  readonly id: string;
  /** sha256 of the token, hex. */
  readonly hash: string;
  /** User name the token acts as (a person, or a service account that belongs to none). */
  readonly owner: string;
  readonly name: string;
  readonly kind: 'user' | 'service';
  readonly groups: readonly string[];
  /** Only GET, HEAD and OPTIONS. */
  readonly readOnly: boolean;
  /** Normalised path prefixes the token may call (empty: any path). */
  readonly pathPrefixes: readonly string[];
  /** Client addresses/CIDRs the token may be used from (empty: any). */
  readonly ipAllow: readonly string[];
  /** ISO 8601, or null: never expires. */
  readonly expiresAt: string | null;
}

export interface TokenIssued {
  readonly type: 'TokenIssued';
  readonly data: TokenIssuedData;
}

export interface TokenRevoked {
  readonly type: 'TokenRevoked';
  /** `by`: who revoked it (`admin`, `user:<name>`); `reason`: why, when given. */
  readonly data: { readonly id: string; readonly by: string; readonly reason?: string };
}

export type TokenEvent = TokenIssued | TokenRevoked;
