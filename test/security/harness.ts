// The attack suite's house: a real RSA key set on a local JWKS listener, an `oidc` provider against it,
// the gateway and admin apps on real loopback sockets, a recording upstream and a listener attackers point at.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { expect } from 'chai';

import type { DecisionRecord } from '../../core/decision-log/record.js';
import { ManualClock } from '../../core/clock.js';
import { hashAdminToken } from '../../core/commands.js';
import { silentLogger } from '../../core/logger.js';
import type { ProviderPlugin } from '../../core/provider.js';
import { Runtime } from '../../server/runtime/runtime.js';
import { SecretBox } from '../../core/secrets.js';
import { MemoryEventStore } from '../../core/store/memory.js';
import jwtKeyPlugin from '../../providers/jwt-key/index.js';
import oidcPlugin from '../../providers/oidc/index.js';
import { PluginRegistry } from '../../providers/registry.js';
import { createAdminApp } from '../../server/admin/app.js';
import { createGatewayApp } from '../../server/gateway/app.js';
import { createGatewayHttpServer } from '../../server/gateway/server.js';
import { UpstreamProxy } from '../../server/gateway/proxy.js';
import { staticPlugin, tokenHash } from '../fixtures/static-provider.js';
import { decisionEntries, FIXED_TIME, listen, type Listening } from '../server/fixtures.js';
import { eventually } from '../support/eventually.js';
import type { AttackCase, Expectation } from './corpus/types.js';
import { fill, forge, type ForgeContext } from './forge.js';
import { rawExchange, wire, type RawExchange, type RawResponse } from './raw.js';

export const ADMIN_TOKEN = 'adm-9c1f7e2b5d3a48e6b0f4c2a1d8e7f6a5';
export const CLIENT_SECRET = 'cs-4e8a1b7c9d2f40e3a6b5c8d7e1f2a3b4';
export const OPAQUE = 'opq-3b7d9e1f5a2c4806b9e8d7c6a5f4e3d2';
export const AUDIENCE = 'api://portcullis';
/** The audience list of the `aud-oidc` and `aud-key` providers (issuers {{ISSUER}}/aud-oidc and /aud-key). */
export const AUDIENCE_LIST = ['api://one', 'api://two'];
/** The key-set path of the `rotating` provider (issuer {{ISSUER}}/rotating), whose keys a test may change. */
export const ROTATING_JWKS = '/rotating/jwks';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Settings every category starts from (and is reset to): each key a category changes is named here. */
export const BASE_SETTINGS = {
  enabled: true,
  paths: { bypass: ['/alive', '/assets/**', 'GET /status'], public: ['/public/**'], restrictPublic: ['/public/private/**'] },
  ip: { allow: [], deny: [], trustedProxies: ['127.0.0.0/8', '::1/128'], realIpHeader: 'x-forwarded-for' },
  rateLimit: { enabled: false },
  audit: { enabled: true },
  groups: { readOnly: [] },
  credentials: { apiKeyHeader: null },
  routes: [],
  forwardAuth: { headers: 'x-forwarded' },
};

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export class Harness {
  runtime!: Runtime;
  /** The gateway's clock: fixed, moved only by tests that need time to pass (the refetch cooldown). */
  clock!: ManualClock;
  store!: MemoryEventStore;
  gateway!: Listening;
  admin!: Listening;
  upstream!: Listening;
  jwks!: Listening;
  attacker!: Listening;
  proxy!: UpstreamProxy;
  forgeContext!: ForgeContext;
  validJwt = '';
  /** A gateway token (owner `ci`), for the API-key header family. */
  gatewayToken = '';
  /** What the upstream received, oldest first. */
  readonly upstreamSeen: Seen[] = [];
  /** Paths the JWKS listener was asked for. */
  readonly jwksHits: string[] = [];
  /** What the listener serves at ROTATING_JWKS: our key (k1) at start; a test may publish more. */
  rotatingKeys: Record<string, unknown>[] = [];
  /** The attacker's public key as a JWK without kid: published into the rotating set it stands for a rotated-in key. */
  attackerJwk: Record<string, unknown> = {};
  /** Anything that reached the attacker's listener (must stay empty: jku/x5u are never followed). */
  readonly attackerHits: string[] = [];
  adminHits = 0;
  /** Uncaught exceptions and unhandled rejections seen while the suite ran. */
  readonly unexpected: unknown[] = [];
  private readonly onUnexpected = (err: unknown) => this.unexpected.push(err);
  private ourPublic!: KeyObject;

  async start(): Promise<void> {
    process.on('uncaughtException', this.onUnexpected);
    process.on('unhandledRejection', this.onUnexpected);
    const ours = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.ourPublic = ours.publicKey;
    const jwk = { ...ours.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' };
    this.rotatingKeys = [jwk];
    this.attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig' };

    this.attacker = await listen((req, res) => {
      this.attackerHits.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      // What an attacker would serve from a jku/x5u: its own key under the kid it signs with.
      res.end(JSON.stringify({ keys: [{ ...attacker.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] }));
    });
    this.jwks = await listen((req, res) => {
      this.jwksHits.push(req.url ?? '');
      if (req.url === '/jwks' || req.url === ROTATING_JWKS) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: req.url === '/jwks' ? [jwk] : this.rotatingKeys }));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    this.upstream = await listen((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => res.destroy());
      req.on('end', () => {
        this.upstreamSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const text = JSON.stringify({ upstream: true, url: req.url });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    });

    const clock = new ManualClock(FIXED_TIME);
    this.clock = clock;
    this.store = new MemoryEventStore({ clock });
    this.runtime = await Runtime.start({
      store: this.store,
      plugins: new PluginRegistry([oidcPlugin as ProviderPlugin, jwtKeyPlugin as ProviderPlugin, staticPlugin as ProviderPlugin]),
      fetch: globalThis.fetch,
      clock,
      logger: silentLogger,
      adminToken: ADMIN_TOKEN,
      secrets: SecretBox.fromEncodedKey(SecretBox.generateEncodedKey()),
    });
    const issuer = this.jwks.url;
    await this.runtime.commands.configureProvider(
      'idp',
      { kind: 'oidc', config: { issuer, audience: AUDIENCE, jwksUri: `${issuer}/jwks`, clientId: 'portcullis-gw', clientSecret: CLIENT_SECRET } },
      undefined,
      { actor: 'test' },
    );
    await this.runtime.commands.configureProvider(
      'tokens',
      { kind: 'static', config: { tokens: { [tokenHash(OPAQUE)]: { username: 'alice', groups: ['devs'] } } }, order: 1 },
      undefined,
      { actor: 'test' },
    );
    // A provider the admin-API attacks may try to delete (the config-event check proves they cannot).
    await this.runtime.commands.configureProvider('spare', { kind: 'static', config: { tokens: {} }, order: 2 }, undefined, { actor: 'test' });
    // An audience given as a list, on two kinds (the audience-list family), and a key set a test rotates (the cooldown tests).
    const more: [string, unknown][] = [
      ['aud-oidc', { kind: 'oidc', config: { issuer: `${issuer}/aud-oidc`, audience: AUDIENCE_LIST, jwksUri: `${issuer}/jwks` }, order: 3 }],
      ['aud-key', { kind: 'jwt-key', config: { issuer: `${issuer}/aud-key`, audience: AUDIENCE_LIST, publicKey: ours.publicKey.export({ type: 'spki', format: 'pem' }) }, order: 4 }],
      ['rotating', { kind: 'oidc', config: { issuer: `${issuer}/rotating`, audience: AUDIENCE, jwksUri: `${issuer}${ROTATING_JWKS}` }, order: 5 }],
    ];
    for (const [id, body] of more) await this.runtime.commands.configureProvider(id, body, undefined, { actor: 'test' });
    await this.resetSettings();
    this.gatewayToken = (await this.runtime.tokenCommands.issue({ owner: 'ci', name: 'deploy', kind: 'service' }, { actor: 'test' })).token;

    this.proxy = new UpstreamProxy({
      upstream: new URL(this.upstream.url),
      timeoutMs: 5000,
      logger: silentLogger,
      isTrustedProxy: (ip) => this.runtime.compiled.isTrustedProxy(ip),
    });
    // The gateway's own server: its head limits and its 431 are part of what is attacked.
    this.gateway = await listen(createGatewayApp({ runtime: this.runtime, proxy: this.proxy, logger: silentLogger }).callback(), (h) =>
      createGatewayHttpServer(h, silentLogger),
    );
    const adminApp = createAdminApp({ runtime: this.runtime, logger: silentLogger }).callback();
    this.admin = await listen((req, res) => {
      this.adminHits += 1;
      void adminApp(req, res);
    });

    this.forgeContext = {
      issuer,
      audience: AUDIENCE,
      now: Math.floor(FIXED_TIME / 1000),
      ourPrivate: ours.privateKey,
      ourPublic: ours.publicKey,
      attackerPrivate: attacker.privateKey,
      placeholders: {},
    };
    this.validJwt = forge({ sign: 'ours' }, this.forgeContext);
    this.forgeContext = { ...this.forgeContext, placeholders: this.placeholders() };
    await this.waitForKeys();
  }

  async stop(): Promise<void> {
    await this.gateway?.close();
    await this.admin?.close();
    await this.proxy?.close();
    await this.runtime?.close();
    for (const l of [this.upstream, this.jwks, this.attacker]) await l?.close();
    process.off('uncaughtException', this.onUnexpected);
    process.off('unhandledRejection', this.onUnexpected);
  }

  placeholders(): Record<string, string> {
    return {
      VALID: this.validJwt,
      OPAQUE,
      GATEWAY: this.gatewayToken,
      GATEWAY_FLIPPED: `${this.gatewayToken.slice(0, 10)}${this.gatewayToken[10] === 'a' ? 'b' : 'a'}${this.gatewayToken.slice(11)}`,
      ADMIN: ADMIN_TOKEN,
      CLIENT_SECRET,
      ISSUER: this.jwks.url,
      ISSUER_UPPER: this.jwks.url.toUpperCase(),
      ATTACKER: this.attacker.url,
      ADMIN_ADDR: `127.0.0.1:${this.admin?.port ?? 0}`,
      ADMIN_MINUS_ONE: ADMIN_TOKEN.slice(0, -1),
      ADMIN_UPPER: ADMIN_TOKEN.toUpperCase(),
      ADMIN_FLIPPED: `b${ADMIN_TOKEN.slice(1)}`,
      ADMIN_BASIC: Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64'),
      ADMIN_SHA256: hashAdminToken(ADMIN_TOKEN),
      BASIC_VALID: Buffer.from(`alice:${OPAQUE}`).toString('base64'),
      PUBLIC_PEM_B64: Buffer.from(this.ourPublic.export({ type: 'spki', format: 'pem' }) as string).toString('base64url'),
    };
  }

  /** Secrets that must never come back to a client. */
  secrets(): string[] {
    return [ADMIN_TOKEN, CLIENT_SECRET, OPAQUE, this.gatewayToken, this.validJwt, Buffer.from(`alice:${OPAQUE}`).toString('base64')];
  }

  async resetSettings(patch: Readonly<Record<string, unknown>> = BASE_SETTINGS): Promise<void> {
    await this.runtime.commands.changeSettings(patch, undefined, { actor: 'test' });
    await this.runtime.whenCompiled();
  }

  private async waitForKeys(): Promise<void> {
    await eventually(
      () => this.runtime.readiness().ready && ['idp', 'aud-oidc', 'rotating'].every((id) => this.runtime.compiled.providers.get(id)?.status().ready === true),
      { within: 10_000, every: 10, what: 'the oidc providers fetching their keys' },
    );
  }

  /** The wire text of a corpus request, placeholders filled, forged token attached. */
  wireOf(c: AttackCase): { text: string; presented: string[] } {
    const ph = this.forgeContext.placeholders;
    const presented: string[] = [];
    if (c.request.raw !== undefined) return { text: fill(c.request.raw, ph), presented };
    const headers = (c.request.headers ?? []).map(([n, v]) => [n, fill(v, ph)] as const);
    if (c.request.token) {
      const token = forge(c.request.token, this.forgeContext);
      presented.push(token);
      headers.unshift(['Authorization', `Bearer ${token}`]);
    }
    for (const [n, v] of headers) {
      const m = /^\s*\S+\s+(\S{16,})/.exec(v);
      if (n.toLowerCase() === 'authorization' && m) presented.push(m[1]!);
    }
    return { text: wire(c.request.method ?? 'GET', fill(c.request.path ?? '/api/resource', ph), headers, fill(c.request.body ?? '', ph)), presented };
  }

  async auditOf(requestId: string): Promise<DecisionRecord[]> {
    await this.runtime.audit.flush();
    return (await decisionEntries(this.store)).map((e) => e.data).filter((d) => d.requestId === requestId);
  }

  private async configEventCount(): Promise<number> {
    return (await this.store.readAll()).filter((e) => !e.stream.startsWith('access-')).length;
  }

  /** Send one corpus case and assert everything the suite promises about it. */
  async run(c: AttackCase): Promise<void> {
    const { text, presented } = this.wireOf(c);
    const upstreamBefore = this.upstreamSeen.length;
    const adminBefore = this.adminHits;
    const configBefore = await this.configEventCount();
    const port = c.request.target === 'admin' ? this.admin.port : this.gateway.port;
    const exchange = await rawExchange(port, text);
    const first = exchange.responses[0];
    expect(first, `an answer (got ${JSON.stringify(exchange.text.slice(0, 200))})`).to.not.equal(undefined);
    const newUpstream = this.upstreamSeen.slice(upstreamBefore);

    await this.check(first!, c.expect, newUpstream, c.request.target === 'admin');
    if (c.expect.second) {
      const second = exchange.responses[1];
      expect(second, 'the pipelined second request is answered on its own').to.not.equal(undefined);
      await this.check(second!, c.expect.second, newUpstream.slice(c.expect.status === 200 ? 1 : 0), false);
    }
    this.expectNoSecret(exchange, presented);
    if (c.request.target !== 'admin') {
      for (const r of exchange.responses) expect(r.headers, 'no decision trace without the admin token').not.to.have.property('x-portcullis-trace');
    }
    // Nothing smuggled past the gateway: the upstream only sees requests the pipeline allowed.
    for (const seen of newUpstream) expect(seen.url, 'smuggled request reached the upstream').not.to.match(/smuggled/i);
    const allowed = [c.expect, c.expect.second].filter((e) => e && e.status < 300).length;
    expect(newUpstream.length, 'upstream requests').to.be.at.most(allowed);
    if (c.request.target !== 'admin') expect(this.adminHits, 'the admin listener is never reached through the gateway').to.equal(adminBefore);
    if (c.expect.status >= 400) expect(await this.configEventCount(), 'a refused request changes no configuration').to.equal(configBefore);
    await this.expectAlive();
  }

  private async check(res: RawResponse, want: Expectation, upstream: readonly Seen[], admin: boolean): Promise<void> {
    const statuses = [want.status, ...(want.orStatus ?? [])];
    expect(statuses, `status ${res.status}: ${res.body.slice(0, 300)}`).to.include(res.status);
    if (want.error === 'parser') {
      // Refused by Node's HTTP parser: Koa never ran, so there is no request id and nothing to audit.
      expect(res.headers, 'no gateway request id on a parser refusal').not.to.have.property('x-request-id');
      expect(upstream, 'nothing reached the upstream').to.have.length(0);
      return;
    }
    const requestId = res.headers['x-request-id'] ?? '';
    expect(requestId).to.match(UUID);
    if (res.status >= 400) {
      expect(res.headers['content-type']).to.match(/^application\/json/);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      expect(body.error, res.body).to.equal(want.error);
      expect(body.request_id).to.equal(requestId);
      if (want.description !== undefined) expect(body.error_description).to.equal(want.description);
      if (res.status === 401) expect(res.headers['www-authenticate'], 'RFC 6750 challenge').to.match(admin ? /^Bearer realm="portcullis-admin"/ : /^Bearer realm="portcullis"/);
      expect(upstream, 'a refused request never reaches the upstream').to.have.length(0);
    } else if (want.proxied === false) {
      expect(upstream, 'answered by the gateway itself').to.have.length(0);
    } else {
      expect(upstream.length, 'the allowed request reached the upstream').to.be.at.least(1);
      for (const [name, value] of Object.entries(want.upstreamHeaders ?? {})) {
        expect(upstream[0]!.headers[name], `upstream header ${name}`).to.equal(value ?? undefined);
      }
      if (want.upstreamPath !== undefined) expect(upstream[0]!.url).to.equal(want.upstreamPath);
      if (want.upstreamBody !== undefined) expect(upstream[0]!.body).to.equal(want.upstreamBody);
      // The gateway consumed the credential: the upstream never sees it.
      if (want.error === 'authenticated') for (const secret of this.secrets()) expect(JSON.stringify(upstream[0]!.headers).includes(secret), 'credential forwarded upstream').to.equal(false);
    }
    for (const [name, value] of Object.entries(want.answerHeaders ?? {})) expect(res.headers[name], `answer header ${name}`).to.equal(value ?? undefined);
    if (admin || want.audited === false) return;
    const events = await this.auditOf(requestId);
    expect(events, 'exactly one recorded decision for the request').to.have.length(1);
    const event = events[0]!;
    expect(event.reason).to.equal(want.error);
    expect(event.status).to.equal(res.status);
    expect(event.allow).to.equal(res.status < 300);
    expect(event.stage).to.be.a('string').and.not.equal('');
    if (want.clientIp !== undefined) expect(event.clientIp).to.equal(want.clientIp);
    if (want.recorded?.host !== undefined) expect(event.host, 'recorded host').to.equal(want.recorded.host);
    if (want.recorded?.path !== undefined) expect(event.path, 'recorded path').to.equal(want.recorded.path);
  }

  private expectNoSecret(exchange: RawExchange, presented: readonly string[]): void {
    const all = Buffer.from(exchange.text, 'latin1').toString('utf8');
    for (const secret of [...this.secrets(), ...presented]) {
      expect(all.includes(secret), `secret ${secret.slice(0, 10)}… echoed in the response`).to.equal(false);
    }
  }

  /** The gateway still answers an ordinary request. */
  async expectAlive(): Promise<void> {
    const before = this.upstreamSeen.length;
    const res = await rawExchange(this.gateway.port, wire('GET', '/alive', []));
    expect(res.responses[0]?.status, 'the gateway still answers').to.equal(200);
    expect(this.upstreamSeen.length).to.equal(before + 1);
  }
}
