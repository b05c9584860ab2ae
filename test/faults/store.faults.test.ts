// Fault suite, event store: the store refuses writes while the built gateway serves (its disk fills up; its files become read-only), then takes them again.
//
// Disk full: the store is put on a tmpfs of its own (a few MiB) and the test fills it with a
// filler file until the kernel refuses a byte (ENOSPC), which SQLite reports as SQLITE_FULL.
// Removing the filler brings the space back.
// Read-only: tests run as root, for whom a file mode would not stop a write, so the store's
// directory and files get the immutable attribute (EPERM on every write, SQLITE_IOERR_WRITE).
import { randomUUID } from 'node:crypto';

import { expect } from 'chai';

import { admin, call } from '../e2e/fixtures/http.js';
import { runCli, storeFor, type Gateway } from '../e2e/fixtures/processes.js';
import { eventually } from '../support/eventually.js';
import { stopAll } from '../support/processes.js';
import {
  bearer,
  expectError,
  jwtKeyProvider,
  newDataDir,
  patchSettings,
  putProvider,
  removeDataDirs,
  requireBuiltCli,
  startFaultGateway,
} from './fixtures/gateway.js';
import { AUDIENCE, newIdpKey, signToken, type IdpKey } from './fixtures/idp.js';
import { burst, tally } from './fixtures/load.js';
import { readEvents, readStoredDecisions } from './fixtures/store.js';
import { immutableSupported, makeReadOnly, makeWritable } from './fixtures/immutable.js';
import { fillUp, freeUp, mountTmpfs, unmount } from './fixtures/tmpfs.js';
import { startFaultUpstream, type FaultUpstream } from './fixtures/upstream.js';

const ISSUER = 'urn:portcullis:faults:store';
/** Room for the ~11k decisions held back while full (blocks of a few hundred KiB, plus the WAL), once freed. */
const TMPFS_BYTES = 48 * 1024 * 1024;
/** /readyz turns 503 once this many decisions wait (core/runtime.ts). */
const READINESS_AUDIT_LIMIT = 10_000;

interface SettingsBody {
  revision: number;
  settings: { groups: { tokenCreators: string[] } };
}

/** A way for the store to refuse writes, and to take them again. */
interface StoreFault {
  readonly title: string;
  /** "once <when>": the state the fault puts the store in. */
  readonly when: string;
  /** A data dir for the gateway on which the fault can be caused, or why it cannot be here. */
  prepare(): Promise<{ dir: string } | { skip: string }>;
  cause(dir: string): Promise<void>;
  repair(dir: string): Promise<void>;
  /** Always runs, whatever failed. */
  cleanup(dir: string): Promise<void>;
}

const diskFull: StoreFault = {
  title: 'event store on a full disk (built gateway, store on its own tmpfs)',
  when: 'the disk is full',
  async prepare() {
    const dir = await newDataDir('portcullis-faults-tmpfs-');
    const mount = await mountTmpfs(dir, TMPFS_BYTES);
    return mount.mounted ? { dir } : { skip: `cannot mount a tmpfs for the disk-full test (${mount.reason}); it needs root or CAP_SYS_ADMIN` };
  },
  async cause(dir) {
    expect(fillUp(dir), 'filler bytes').to.be.above(0);
  },
  async repair(dir) {
    freeUp(dir);
  },
  cleanup: unmount,
};

const readOnly: StoreFault = {
  title: 'event store made read-only (built gateway, store files immutable)',
  when: 'the store files are read-only',
  async prepare() {
    const dir = await newDataDir('portcullis-faults-readonly-');
    const supported = await immutableSupported(dir);
    return supported.ok ? { dir } : { skip: `cannot make the store read-only for root here (${supported.reason}); it needs chattr on ext4 or alike, as root` };
  },
  cause: makeReadOnly,
  repair: makeWritable,
  cleanup: makeWritable,
};

for (const fault of [diskFull, readOnly]) storeFaultSuite(fault);

function storeFaultSuite(fault: StoreFault): void {
  describe(`faults: ${fault.title}`, function () {
    this.timeout(30_000);

    let storeDir: string | undefined;
    let upstream: FaultUpstream;
    let gateway: Gateway;
    let key: IdpKey;
    let token: string;
    const nonce = randomUUID().slice(0, 8);
    /** Paths of requests decided while the store refused writes, with the status each got. */
    const decidedWhileRefused = new Map<string, number>();
    const refusedMarkers: string[] = [];
    let lastGoodMarker = '';

    const marker = (what: string) => `faults-${nonce}-${what}`;
    /** 300 requests with a valid token and 100 without, 8 in flight: their answers. */
    const decideMix = async (phase: string) => {
      const allowed = await burst(gateway.url, {
        path: (i) => `/ok/${nonce}/${phase}/allowed/${i}`,
        headers: () => bearer(token),
        count: 300,
        concurrency: 8,
      });
      const refused = await burst(gateway.url, { path: (i) => `/ok/${nonce}/${phase}/refused/${i}`, count: 100, concurrency: 8 });
      return { allowed, refused };
    };

    before(async function () {
      requireBuiltCli();
      const prepared = await fault.prepare();
      if ('skip' in prepared) {
        // In CI the machine is known to allow it: a skip there would hide a missing test.
        if (process.env.CI) throw new Error(prepared.skip);
        process.stderr.write(`\n  SKIPPED store fault tests: ${prepared.skip}\n`);
        this.skip();
      }
      const dir = prepared.dir;
      storeDir = dir;
      upstream = await startFaultUpstream();
      gateway = await startFaultGateway({ upstream: upstream.url, dataDir: dir });
      key = await newIdpKey('store-k1');
      const put = await putProvider(gateway, 'local-key', jwtKeyProvider(key.publicJwk, ISSUER, AUDIENCE));
      expect(put.status, put.text).to.be.oneOf([200, 201]);
      token = await signToken(ISSUER, key);
      // No request before the fault: the audit thread opens its connection to the store while the store
      // refuses writes (SQLite then opens it read-only), and must still write everything after the repair.
      lastGoodMarker = marker('before');
      const patched = await patchSettings(gateway, { groups: { tokenCreators: [lastGoodMarker] } });
      expect(patched.status, patched.text).to.equal(200);
    });

    after(async () => {
      await stopAll();
      await upstream?.close();
      if (storeDir) await fault.cleanup(storeDir);
      await removeDataDirs();
    });

    it(`refuses admin writes with 503 store_unavailable once ${fault.when}`, async () => {
      await fault.cause(storeDir!);
      let revision = ((await admin(gateway, 'GET', '/settings')).json as SettingsBody).revision;
      // The first write needs a new page of the write-ahead log: there is none.
      const settingsWrite = await patchSettings(gateway, { groups: { tokenCreators: [marker('refused-settings')] } }, revision);
      refusedMarkers.push(marker('refused-settings'));
      expectError(settingsWrite, 503, 'store_unavailable');

      const providerWrite = await putProvider(gateway, 'refused-provider', jwtKeyProvider(key.publicJwk, `${ISSUER}:refused`, marker('refused-provider')));
      refusedMarkers.push(marker('refused-provider'));
      expectError(providerWrite, 503, 'store_unavailable');

      const removal = await admin(gateway, 'DELETE', '/providers/local-key');
      expectError(removal, 503, 'store_unavailable');

      // Refused means not applied: the settings are as they were.
      const now = (await admin(gateway, 'GET', '/settings')).json as SettingsBody;
      expect(now.revision).to.equal(revision);
      expect(now.settings.groups.tokenCreators).to.deep.equal([lastGoodMarker]);
      revision = now.revision;
    });

    // That the request path does not wait for the store shows below: the events of these requests are
    // still waiting in memory (/readyz counts them) when every one of them has been answered.
    it('keeps deciding requests: valid tokens are proxied, missing ones refused', async () => {
      const { allowed, refused } = await decideMix('refusing');
      expect(tally(allowed)).to.deep.equal({ 200: 300 });
      expect(tally(refused)).to.deep.equal({ 401: 100 });
      for (let i = 0; i < 300; i++) decidedWhileRefused.set(`/ok/${nonce}/refusing/allowed/${i}`, 200);
      for (let i = 0; i < 100; i++) decidedWhileRefused.set(`/ok/${nonce}/refusing/refused/${i}`, 401);
      const health = await call(`${gateway.adminUrl}/healthz`);
      expect(health.status).to.equal(200);
    });

    it(`holds the decisions in memory, and says so on /readyz past ${READINESS_AUDIT_LIMIT} waiting`, async function () {
      // Bounded by this timeout only: how fast a busy machine gets through the flood is not the question.
      this.timeout(120_000);
      const count = READINESS_AUDIT_LIMIT + 500;
      const flood = await burst(gateway.url, { path: (i) => `/ok/${nonce}/flood/${i}`, count, concurrency: 16 });
      expect(tally(flood)).to.deep.equal({ 401: count });
      for (let i = 0; i < flood.sent; i++) decidedWhileRefused.set(`/ok/${nonce}/flood/${i}`, 401);
      const ready = await call(`${gateway.adminUrl}/readyz`);
      expect(ready.status, ready.text).to.equal(503);
      const audit = (ready.json as { checks?: Record<string, { ready: boolean; detail?: string }> }).checks?.audit;
      expect(audit?.ready).to.equal(false);
      const waiting = Number(/(\d+) decisions waiting/.exec(audit?.detail ?? '')?.[1]);
      expect(waiting, audit?.detail).to.equal(decidedWhileRefused.size);
    });

    it('recovers once the store takes writes again: admin writes succeed and every buffered decision is written', async function () {
      this.timeout(60_000);
      await fault.repair(storeDir!);
      lastGoodMarker = marker('after');
      const patched = await patchSettings(gateway, { groups: { tokenCreators: [lastGoodMarker] } });
      expect(patched.status, patched.text).to.equal(200);
      expect((patched.json as SettingsBody).settings.groups.tokenCreators).to.deep.equal([lastGoodMarker]);

      // The audit writer backs off while the store refuses (up to 5 s between attempts): allow for it.
      let mine: Map<string, number> = new Map();
      await eventually(
        async () => {
          const decisions = await readStoredDecisions(gateway.dataDir);
          mine = new Map(
            decisions
              .map((s) => s.decision)
              .filter((d) => d.path.startsWith(`/ok/${nonce}/`))
              .map((d) => [d.path, d.status]),
          );
          return [...decidedWhileRefused.keys()].every((path) => mine.has(path));
        },
        { within: 30_000, every: 500 },
      ).catch(() => undefined); // what is still missing is reported below, by phase
      const missing = new Map<string, number>();
      for (const path of decidedWhileRefused.keys()) {
        if (mine.has(path)) continue;
        const group = path.split('/').slice(3, 5).join('/');
        missing.set(group, (missing.get(group) ?? 0) + 1);
      }
      expect(Object.fromEntries(missing), 'decisions missing, by phase').to.deep.equal({});
      const wrong = [...decidedWhileRefused].filter(([path, status]) => mine.get(path) !== status);
      expect(wrong.slice(0, 5), 'recorded status differs').to.deep.equal([]);
      const ready = await call(`${gateway.adminUrl}/readyz`);
      expect(ready.status, ready.text).to.equal(200);
    });

    it('stored none of the refused writes, and the hash chain is intact', async () => {
      const config = JSON.stringify(await readEvents(gateway.dataDir, ['settings', 'provider-']));
      for (const refused of refusedMarkers) expect(config).to.not.include(refused);
      expect(config).to.include(marker('after'));
      const exit = await gateway.process.stop('SIGTERM');
      expect(exit).to.deep.equal({ code: 0, signal: null });
      const verify = await runCli(['verify'], { PORTCULLIS_STORE: storeFor(gateway.dataDir) }, gateway.dataDir);
      expect(verify.code, `${verify.stdout}\n${verify.stderr}`).to.equal(0);
      expect(verify.stdout).to.match(/intact/);
    });
  });
}
