// audit.retention as the store's configuration events set it: what `audit prune` applies, with no server running.
import { CONFIG_STREAM_PREFIXES } from '../events.js';
import { evolve, initialConfigState } from '../settings/config-state.js';
import type { EventStore, Position } from '../store/port.js';
import type { RetentionSettings } from './apply.js';

export async function storedRetentionSettings(store: Pick<EventStore, 'readAll'>): Promise<RetentionSettings> {
  let config = initialConfigState;
  let after: Position | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after !== undefined ? { after } : {}), streamPrefixes: CONFIG_STREAM_PREFIXES, maxCount: PAGE });
    for (const event of page) config = evolve(config, event);
    if (page.length < PAGE) return config.settings.audit.retention;
    after = page.at(-1)!.position;
  }
}

const PAGE = 1000;
