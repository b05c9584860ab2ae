// audit.retention in the settings schema: absent means keep everything; limits are validated.
import { expect } from 'chai';
import { defaultSettings, settingsSchema } from '../../../core/settings/schema.js';

describe('core/settings audit.retention', () => {
  it('keeps everything by default', () => {
    expect(defaultSettings.audit.retention).to.deep.equal({ maxDays: false, maxEntries: false });
  });

  it('takes a number of days and a cap on decisions', () => {
    const parsed = settingsSchema.parse({ audit: { retention: { maxDays: 30, maxEntries: 5_000_000 } } });
    expect(parsed.audit.retention).to.deep.equal({ maxDays: 30, maxEntries: 5_000_000 });
    expect(parsed.audit.enabled).to.equal(true);
  });

  for (const [label, retention] of [
    ['zero days', { maxDays: 0 }],
    ['fractional days', { maxDays: 1.5 }],
    ['days as a string', { maxDays: '30' }],
    ['a cap below 1000', { maxEntries: 10 }],
    ['true as a limit', { maxEntries: true }],
    ['an unknown field', { maxBytes: 1 }],
  ] as const) {
    it(`refuses ${label}`, () => {
      expect(settingsSchema.safeParse({ audit: { retention } }).success).to.equal(false);
    });
  }
});
