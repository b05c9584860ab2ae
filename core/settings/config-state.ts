// The configuration projection: a pure fold of configuration events into the current state.
import type { RecordedEvent } from '../store/port.js';
import type { ConfigEvent, ProviderConfiguration } from '../events.js';
import { applyMergePatch, isJsonObject, type JsonObject } from './merge-patch.js';
import { deepFreeze, defaultSettings, storedSettingsSchema, type Settings } from './schema.js';

export interface ProviderRecord extends ProviderConfiguration {
  /** Number of events in the provider's stream: the value of its ETag. */
  readonly revision: number;
  readonly updatedAt: string;
}

export interface ConfigState {
  /** Number of settings changes so far (0 = defaults): the value of the settings ETag. */
  readonly settingsRevision: number;
  /** What admins set: the sparse document that `export` writes and patches apply to. */
  readonly document: JsonObject;
  /** The document with every default filled in. */
  readonly settings: Settings;
  readonly providers: Readonly<Record<string, ProviderRecord>>;
  readonly adminTokenSha256?: string;
}

export const initialConfigState: ConfigState = deepFreeze({
  settingsRevision: 0,
  document: {},
  settings: defaultSettings,
  providers: {},
});

/** Fold one event into the state. Unknown event types leave it unchanged (forward compatibility). */
export function evolve(state: ConfigState, event: RecordedEvent): ConfigState {
  const e = event as unknown as ConfigEvent & RecordedEvent;
  switch (e.type) {
    case 'SettingsChanged': {
      const patched = applyMergePatch(state.document, e.data.patch);
      const document = isJsonObject(patched) ? patched : {};
      // Commands validate before appending; a document that no longer parses (an older
      // version's setting) keeps the last valid settings rather than stopping the node.
      const parsed = storedSettingsSchema.safeParse(document);
      return deepFreeze({
        ...state,
        settingsRevision: e.revision + 1,
        document,
        settings: parsed.success ? parsed.data : state.settings,
      });
    }
    case 'ProviderConfigured':
      return deepFreeze({
        ...state,
        providers: {
          ...state.providers,
          [e.data.id]: { ...e.data, revision: e.revision + 1, updatedAt: e.time },
        },
      });
    case 'ProviderRemoved': {
      const { [e.data.id]: _removed, ...providers } = state.providers;
      return deepFreeze({ ...state, providers });
    }
    case 'AdminTokenCreated':
      return deepFreeze({ ...state, adminTokenSha256: e.data.sha256 });
    default:
      return state;
  }
}
