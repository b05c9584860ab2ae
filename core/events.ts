// The configuration events: their types, their streams, and the data each carries (never a secret in clear).
import type { JsonObject } from './settings/merge-patch.js';

export const SETTINGS_STREAM = 'settings';
export const ADMIN_STREAM = 'admin';
export const PROVIDER_STREAM_PREFIX = 'provider-';
export const ACCESS_STREAM_PREFIX = 'access-';

/** Streams the configuration projection reads; access streams are left out so start-up stays fast. */
export const CONFIG_STREAM_PREFIXES = [SETTINGS_STREAM, ADMIN_STREAM, PROVIDER_STREAM_PREFIX] as const;

export const providerStream = (id: string): string => `${PROVIDER_STREAM_PREFIX}${id}`;

/** Day-partitioned access stream (UTC), so retention drops whole days. */
export const accessStream = (timeMs: number): string =>
  `${ACCESS_STREAM_PREFIX}${new Date(timeMs).toISOString().slice(0, 10)}`;

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

export type ConfigEvent = SettingsChanged | ProviderConfigured | ProviderRemoved | AdminTokenCreated;
