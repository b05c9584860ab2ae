// StoreSizeWatch: one warning each time the store grows past storeSizeWarnBytes, not one per check.
import { expect } from 'chai';

import { silentLogger, type Logger } from '../../../core/logger.js';
import { StoreSizeWatch } from '../../../server/runtime/store-size.js';

describe('server/runtime StoreSizeWatch', () => {
  it('warns when the size crosses the limit upwards, once per crossing', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(String(args.at(-1))) };
    let bytes: number | undefined = 900;
    const watch = new StoreSizeWatch({ sizeBytes: async () => bytes }, 1000, logger);
    expect(await watch.check()).to.equal(900);
    expect(warnings).to.deep.equal([]);
    bytes = 1500;
    await watch.check();
    await watch.check();
    expect(warnings).to.have.length(1);
    bytes = 800;
    await watch.check();
    bytes = 1200;
    await watch.check();
    expect(warnings).to.have.length(2);
    bytes = undefined;
    await watch.check();
    expect(watch.status).to.deep.equal({ ready: true });
  });

  it('logs a store that cannot be measured, and keeps the last size', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(String(args.at(-1))) };
    let fail = false;
    const watch = new StoreSizeWatch({ sizeBytes: async () => (fail ? Promise.reject(new Error('down')) : 10) }, 1000, logger);
    await watch.check();
    fail = true;
    expect(await watch.check()).to.equal(10);
    expect(warnings).to.deep.equal(['could not measure the store size']);
  });
});
