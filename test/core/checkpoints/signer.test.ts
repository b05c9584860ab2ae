// The signer: every N events or T seconds, never when only its own checkpoint is new, durably, once per store, resuming after a restart.
import { generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';

import { CHECKPOINT_SIGNED, CHECKPOINT_STREAM, checkpointKey, hasValidSignature } from '../../../core/checkpoints/checkpoint.js';
import { CheckpointSigner, type CheckpointSignerOptions, type CheckpointStore } from '../../../core/checkpoints/signer.js';
import { verifyHistory } from '../../../core/checkpoints/verify-history.js';
import { ManualClock } from '../../../core/clock.js';
import { silentLogger, type Logger } from '../../../core/logger.js';
import { MemoryEventStore } from '../../../core/store/memory.js';
import type { AppendOptions, NewEvent } from '../../../core/store/port.js';

const key = checkpointKey(generateKeyPairSync('ed25519').privateKey);
const EVERY: CheckpointSignerOptions = { everyEvents: 5, everySeconds: 60 };
const events = (n: number, prefix = 'e') => Array.from({ length: n }, (_, i): NewEvent => ({ id: `${prefix}${i}`, type: 'Tested', data: { i } }));

describe('CheckpointSigner', () => {
  let clock: ManualClock;
  let store: MemoryEventStore;
  let counter = 0;
  const append = (n: number) => store.append('s-1', events(n, `b${counter++}-`), { durable: false });
  const signerOn = (on: CheckpointStore = store, options = EVERY, logger: Logger = silentLogger) => new CheckpointSigner(on, key, clock, logger, options);
  const checkpointEvents = async () => (await store.readAll()).filter((e) => e.type === CHECKPOINT_SIGNED);

  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2024, 0, 1));
    store = new MemoryEventStore({ clock });
  });

  it('signs nothing on an empty store, however long it waits', async () => {
    const signer = signerOn();
    clock.advance(3_600_000);
    expect(await signer.tick()).to.equal(undefined);
    expect(await signer.stop()).to.equal(undefined);
    expect(await store.readAll()).to.deep.equal([]);
  });

  it('signs once N events were appended, naming the last one by position, count and hash', async () => {
    const signer = signerOn();
    await append(4);
    expect(await signer.tick(), '4 of 5').to.equal(undefined);
    await append(1);
    const signed = await signer.tick();
    const [, , , , fifth, own] = await store.readAll();
    expect(signed).to.deep.include({ position: fifth?.position, count: 5, hash: fifth?.hash, time: '2024-01-01T00:00:00.000Z', keyId: key.keyId });
    expect(hasValidSignature(signed!)).to.equal(true);
    expect(own).to.deep.include({ stream: CHECKPOINT_STREAM, type: CHECKPOINT_SIGNED, revision: 0, data: signed, metadata: { actor: 'system' } });
  });

  it('signs after T seconds when fewer than N events came, and not before', async () => {
    const signer = signerOn();
    await append(1);
    clock.advance(59_999);
    expect(await signer.tick()).to.equal(undefined);
    clock.advance(1);
    expect(await signer.tick()).to.deep.include({ count: 1 });
  });

  it('does not sign when only its own last checkpoint is new: an idle store gets no more', async () => {
    const signer = signerOn();
    await append(5);
    await signer.tick();
    for (let i = 0; i < 3; i++) {
      clock.advance(3_600_000);
      expect(await signer.tick()).to.equal(undefined);
    }
    expect(await checkpointEvents()).to.have.length(1);
  });

  it('counts its own checkpoint events in the chain, so verify agrees with every count', async () => {
    const signer = signerOn();
    await append(5);
    await signer.tick();
    await append(2);
    clock.advance(60_000);
    const second = await signer.tick();
    expect(second).to.deep.include({ count: 8 });
    expect((await verifyHistory(store)).checkpoints).to.deep.include({ stored: 2, matched: 2 });
  });

  it('appends its checkpoint durably, naming a position before its own event', async () => {
    const appends: { stream: string; options: AppendOptions | undefined }[] = [];
    const spy: CheckpointStore = {
      append: (stream, list, options) => {
        appends.push({ stream, options });
        return store.append(stream, list, options);
      },
      readStream: (stream, options) => store.readStream(stream, options),
      countEvents: (options) => store.countEvents(options),
    };
    const signer = signerOn(spy);
    await append(5);
    const signed = await signer.tick();
    expect(appends).to.deep.equal([{ stream: CHECKPOINT_STREAM, options: { expectedRevision: 'no_stream', durable: true } }]);
    const [own] = await checkpointEvents();
    expect(Number(signed?.position)).to.be.below(Number(own?.position));
  });

  it('on stop, signs what came since the last checkpoint, even below N and T', async () => {
    const signer = signerOn();
    signer.start();
    await append(2);
    const last = await signer.stop();
    expect(last).to.deep.include({ count: 2 });
    expect(await signerOn().stop(), 'nothing new since').to.equal(undefined);
  });

  it('resumes after a restart from the last stored checkpoint, and counts on from it', async () => {
    await append(5);
    await signerOn().tick();
    await append(5);
    const again = signerOn();
    const signed = await again.tick();
    expect(signed).to.deep.include({ count: 11 });
    expect(again.last).to.deep.equal({ position: signed?.position, count: 11 });
    expect(await verifyHistory(store)).to.deep.include({ ok: true });
  });

  it('counts a long stretch in chunks, giving the event loop turns in between', async () => {
    await store.append('s-1', events(25_000), { durable: false });
    const signer = signerOn(store, { everyEvents: 100_000, everySeconds: 60 });
    clock.advance(60_000);
    // Queued before the round starts: it runs only if the round lets the loop turn before it ends.
    let turned = false;
    setImmediate(() => (turned = true));
    const signed = await signer.tick();
    expect(turned).to.equal(true);
    expect(signed).to.deep.include({ count: 25_000 });
  });

  it('two signers on one store never interleave: the late one yields, then continues from the other\'s checkpoint', async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (...args: unknown[]) => void warnings.push(String(args.at(-1))) };
    const late = signerOn(store, EVERY, logger);
    expect(await late.tick()).to.equal(undefined);
    await append(5);
    await signerOn().tick();
    expect(await late.tick(), 'the other signed meanwhile').to.equal(undefined);
    expect(warnings).to.have.length(1);
    expect(await checkpointEvents()).to.have.length(1);
    await append(5);
    expect(await late.tick()).to.deep.include({ count: 11 });
    expect(await checkpointEvents()).to.have.length(2);
    expect(await verifyHistory(store)).to.deep.include({ ok: true });
  });

  it('logs a store failure once, keeps polling, and signs when the store answers again', async () => {
    const errors: unknown[] = [];
    const logger: Logger = { ...silentLogger, error: (...args: unknown[]) => void errors.push(args[0]) };
    let down = true;
    const flaky: CheckpointStore = {
      append: (stream, list, options) => store.append(stream, list, options),
      readStream: (stream, options) => store.readStream(stream, options),
      countEvents: (options) => (down ? Promise.reject(new Error('disk on fire')) : store.countEvents(options)),
    };
    const signer = signerOn(flaky, EVERY, logger);
    await append(5);
    expect(await signer.tick()).to.equal(undefined);
    expect(await signer.tick()).to.equal(undefined);
    expect(errors).to.have.length(1);
    down = false;
    expect(await signer.tick()).to.deep.include({ count: 5 });
  });

  it('keeps signing when the last event of its stream is not a checkpoint, counting the chain from the first event', async () => {
    await append(3);
    await store.append(CHECKPOINT_STREAM, [{ id: 'junk', type: CHECKPOINT_SIGNED, data: { not: 'a checkpoint' } }]);
    await append(3);
    const signed = await signerOn().tick();
    expect(signed).to.deep.include({ count: 7 });
    expect((await store.readStream(CHECKPOINT_STREAM)).map((e) => e.revision)).to.deep.equal([0, 1]);
  });

  it('refuses options that could never sign', () => {
    expect(() => signerOn(store, { everyEvents: 0, everySeconds: 1 })).to.throw(TypeError);
    expect(() => signerOn(store, { everyEvents: 1, everySeconds: 0 })).to.throw(TypeError);
  });
});
