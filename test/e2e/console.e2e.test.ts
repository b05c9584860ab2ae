// End-to-end: the web console in Debian's Chromium (driven by playwright-core), against the built gateway and a real OpenID provider.
//
// One browser for the whole walk of issue 18: sign in; configure an oidc-discovery provider and test a
// token; pick a username attribute; sign in through that provider as a member of the admin group (and be
// refused as someone else); fetch a token; create and revoke a gateway token; deny an address and see a
// request refused; find it in the audit log with its trace and export it; view the configuration before
// the change, made by the signed-in user; simulate reverting it. A screenshot of every page lands in reports/console/ (docs/console.md shows them).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

import { eventually } from '../support/eventually.js';
import { startProcess, stopAll, type ProcessHandle } from '../support/processes.js';
import { UNUSED_REDIRECT_URI, authorizationCodeToken, webClient } from './fixtures/authorization.js';
import { call } from './fixtures/http.js';
import { CLI, REPO_ROOT, startGateway, startOp, type Gateway, type Op } from './fixtures/processes.js';
import { E2E_CLIENT, E2E_CLIENT_CLAIMS, RESOURCE, clientCredentialsToken, generateSigningKey } from './fixtures/tokens.js';
import { startUpstream, type Upstream } from './fixtures/upstream.js';

export const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(REPO_ROOT, 'reports', 'console');
const DEVTOOLS_LINE = /DevTools listening on (ws:\/\/\S+)/;

/** Debian's Chromium, headless, on a fresh profile, its DevTools on a port it picks and prints. */
async function startChromium(profile: string): Promise<{ handle: ProcessHandle; browser: Browser }> {
  const handle = await startProcess(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${profile}`,
      '--remote-debugging-address=127.0.0.1',
      '--remote-debugging-port=0',
      'about:blank',
    ],
    { name: 'chromium', readyLine: DEVTOOLS_LINE, timeoutMs: 30_000 },
  );
  const endpoint = handle.output.map((l) => DEVTOOLS_LINE.exec(l)?.[1]).find((u) => u !== undefined);
  if (!endpoint) throw new Error('chromium printed no DevTools endpoint');
  return { handle, browser: await chromium.connectOverCDP(endpoint) };
}

const WEB_CLIENT = webClient([UNUSED_REDIRECT_URI], 'e2e-console-web');
/** The provider's own client: console sign-in and the fetch-token helper, each at its redirect URI. */
const signInClient = (adminUrl: string) => ({
  ...webClient([`${adminUrl}/api/v1/session/oidc/callback`, `${adminUrl}/oauth/callback`], 'e2e-console-sign-in'),
  grant_types: ['authorization_code'],
});
/** erin is in the admin group, dave is not; their access tokens (JWTs for RESOURCE) carry these claims. */
const ACCOUNT_CLAIMS = {
  erin: { email: 'erin@example.test', groups: ['admins', 'support'] },
  dave: { email: 'dave@example.test', groups: ['support'] },
};
const ERIN_ACTOR = 'oidc:corp:erin@example.test';

/** The OP's development login and consent pages (oidc-provider's devInteractions, at `opOrigin`): any password is accepted. */
async function loginAtOp(page: Page, opOrigin: string, login: string): Promise<void> {
  await page.waitForSelector('input[name="prompt"][value="login"]', { state: 'attached' });
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any-password');
  await page.click('button[type="submit"]');
  // The consent page the first time this account meets this client; else straight back to us.
  const consent = page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' }).then(() => true);
  const left = page.waitForURL((url) => url.origin !== opOrigin).then(() => false);
  if (await Promise.race([consent, left])) await page.click('button[type="submit"]');
  consent.catch(() => undefined);
  left.catch(() => undefined);
}

describe('web console in Chromium: the admin walk', function () {
  this.timeout(60_000);

  let profile: string;
  let dataDir: string;
  let upstream: Upstream;
  let op: Op;
  let gateway: Gateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const adminToken = `pca_console_${randomUUID()}`;
  /** Problems the page itself reported: script errors and Content-Security-Policy refusals. */
  const pageProblems: string[] = [];

  before(async function () {
    this.timeout(90_000);
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    [profile, dataDir] = await Promise.all([mkdtemp(join(tmpdir(), 'portcullis-chromium-')), mkdtemp(join(tmpdir(), 'portcullis-e2e-console-'))]);
    await mkdir(SHOTS, { recursive: true });
    upstream = await startUpstream();
    const key = await generateSigningKey('console-k1');
    [gateway, { browser }] = await Promise.all([
      startGateway({ dataDir, upstream: upstream.url, env: { PORTCULLIS_ADMIN_TOKEN: adminToken } }),
      startChromium(profile),
    ]);
    // Started once the admin listener's address is known: the sign-in client's redirect URIs name it.
    op = await startOp({
      jwks: { keys: [key.privateJwk] },
      clients: [E2E_CLIENT, { ...WEB_CLIENT, grant_types: ['authorization_code'] }, signInClient(gateway.adminUrl)],
      resources: { [RESOURCE]: { scope: 'api:read', accessTokenFormat: 'jwt' } },
      defaultResource: false,
      clientCredentialsResource: RESOURCE,
      clientResources: { 'e2e-console-sign-in': RESOURCE },
      tokenClaims: { [E2E_CLIENT.client_id]: E2E_CLIENT_CLAIMS, ...ACCOUNT_CLAIMS },
      accounts: ACCOUNT_CLAIMS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('pageerror', (err) => pageProblems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      // Only the console's own pages: the OP's login page imports a web font from the Internet, which is not reachable here.
      if (!page.url().startsWith(`${gateway.adminUrl}/`)) return;
      if (msg.type() === 'error' && !/Failed to load resource: the server responded with a status of (4|5)\d\d/.test(msg.text())) pageProblems.push(`console: ${msg.text()}`);
    });
  });

  after(async () => {
    await browser?.close().catch(() => undefined);
    await stopAll();
    await upstream?.close();
    // Chromium's helper processes can still be writing into the profile after the browser has
    // exited (ENOTEMPTY seen once in a full run): rm retries those errors itself.
    await Promise.all([profile, dataDir].filter(Boolean).map((d) => rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })));
  });

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const open = async (hash: string, ready: string) => {
    const target = `${gateway.adminUrl}/console/${hash}`;
    // The same address again changes no hash: load the page afresh instead.
    if (page.url() === target) await page.reload();
    else await page.goto(target);
    await page.waitForSelector(`main[data-ready="${ready}"]`);
  };
  const gatewayCall = (token: string) => call(`${gateway.url}/console-walk`, { headers: { authorization: `Bearer ${token}` } });

  it('serves the console on the admin listener only, with a strict CSP, and signs in with the admin token', async () => {
    const res = await call(`${gateway.adminUrl}/console/`);
    expect(res.status).to.equal(200);
    expect(res.headers['content-security-policy']).to.include("script-src 'self'").and.not.include('unsafe-inline');
    expect((await call(`${gateway.url}/console/`)).status, 'the gateway listener').to.not.equal(200);

    await page.goto(`${gateway.adminUrl}/console/`);
    await page.fill('#admin-token', 'not-the-token');
    await page.click('button[type=submit]');
    await page.waitForSelector('.sign-in .error:not([hidden])');
    expect(await page.textContent('.sign-in .error')).to.include('unauthorized');
    await shot('sign-in');
    await page.fill('#admin-token', adminToken);
    await page.click('button[type=submit]');
    await page.waitForSelector('main[data-ready="overview"]');
    // The admin token was exchanged for an HttpOnly session cookie: no script can read it, and the tab keeps no token.
    const [cookie, ...others] = (await context.cookies(gateway.adminUrl + '/api/v1/')).filter((c) => c.name === 'portcullis_session');
    expect(others).to.deep.equal([]);
    expect(cookie).to.deep.include({ httpOnly: true, sameSite: 'Strict', path: '/api/v1', secure: false });
    expect(cookie!.expires * 1000).to.be.greaterThan(Date.now() + 7 * 3600_000);
    expect(await page.evaluate('document.cookie')).to.equal('');
    expect(await page.evaluate('JSON.stringify({ ...sessionStorage, ...localStorage })')).to.not.include(adminToken);
    expect(await page.textContent('#signed-in-as')).to.equal('admin');
  });

  it('configures an oidc-discovery provider from its schema form and tests a token', async () => {
    await open('#/providers?new=1', 'providers');
    await page.selectOption('#provider-kind', 'oidc-discovery');
    await page.fill('#provider-id', 'corp');
    // A required field left empty is marked before anything is sent.
    await page.click('.provider-editor button[type=submit]');
    expect(await page.textContent('.field:has(#cfg-audience) .problem')).to.equal('required');
    // What only the kind's own schema can judge comes back from the API, marked on its field.
    await page.fill('#cfg-audience', RESOURCE);
    await page.fill('#cfg-issuer', 'not a url');
    await page.click('.provider-editor button[type=submit]');
    await page.waitForSelector('.provider-editor .error');
    expect(await page.textContent('.provider-editor .error')).to.include('invalid_request');
    expect(await page.textContent('.field:has(#cfg-issuer) .problem')).to.include('issuer');
    await page.fill('#cfg-issuer', op.issuer);
    const client = signInClient(gateway.adminUrl);
    await page.fill('#cfg-clientId', client.client_id);
    await page.fill('#cfg-clientSecret', client.client_secret!);
    await page.click('.provider-editor button[type=submit]');
    await page.waitForSelector('#redirect-uri');
    expect(await page.textContent('#redirect-uri')).to.equal(`${gateway.adminUrl}/oauth/callback`);

    const jwt = await clientCredentialsToken(op.issuer);
    await page.fill('#test-token', jwt);
    await page.click('form:has(#test-token) button[type=submit]');
    await page.waitForSelector('#test-identity');
    expect(await page.textContent('#test-identity')).to.equal('alice');
    expect(await page.textContent('#test-result .decision')).to.include('allow 200');
    await shot('providers');
  });

  it('picks the username attribute from the provider JSON, saves it, and the test token shows it', async () => {
    const { access_token: opaque } = await authorizationCodeToken(op.issuer, WEB_CLIENT, { login: 'erin', scope: 'openid profile email' });
    await page.fill('#userinfo-token', opaque);
    await page.click('form:has(#userinfo-token) button[type=submit]');
    await page.waitForSelector('button.attribute[data-path="email"]');
    await page.selectOption('#pick-target', 'usernameClaim');
    await page.click('button.attribute[data-path="email"]');
    expect(await page.inputValue('#cfg-usernameClaim')).to.equal('email');
    await shot('providers-username-attribute');
    await page.click('.provider-editor button[type=submit]');
    await page.waitForSelector('.done:has-text("Saved corp")');
    const saved = await call(`${gateway.adminUrl}/api/v1/providers/corp`, { headers: { authorization: `Bearer ${adminToken}` } });
    expect((saved.json as { config: { usernameClaim: string } }).config.usernameClaim).to.equal('email');

    await page.fill('#test-token', await clientCredentialsToken(op.issuer));
    await page.click('form:has(#test-token) button[type=submit]');
    await page.waitForSelector('#test-identity');
    expect(await page.textContent('#test-identity')).to.equal('alice@example.test');
  });

  it('signs in through the provider as a member of the admin group; someone outside it is refused', async () => {
    await open('#/settings', 'settings');
    await page.fill('#set-console-signInProvider', 'corp');
    await page.fill('#set-console-adminGroups', 'admins');
    await page.click('#section-console button[type=submit]');
    await page.waitForSelector('#section-console .outcome:has-text("Saved")');

    // dave, in another browser profile (no session at the provider yet): logs in, and the console refuses him.
    const other = await browser.newContext();
    try {
      const refused = await other.newPage();
      await refused.goto(`${gateway.adminUrl}/console/`);
      await refused.click('#sign-in-oidc');
      await loginAtOp(refused, op.issuer, 'dave');
      await refused.waitForSelector('#error');
      expect(await refused.textContent('#error')).to.equal('not_an_admin');
      expect((await other.cookies(gateway.adminUrl + '/api/v1/')).map((c) => c.name)).to.not.include('portcullis_session');
    } finally {
      await other.close();
    }

    await page.click('nav button.sign-out');
    await page.waitForSelector('#sign-in-oidc');
    expect(await page.textContent('#sign-in-oidc')).to.equal('Sign in with corp');
    expect((await context.cookies(gateway.adminUrl + '/api/v1/')).map((c) => c.name)).to.not.include('portcullis_session');
    await shot('sign-in-oidc');
    await page.click('#sign-in-oidc');
    await loginAtOp(page, op.issuer, 'erin');
    await page.waitForSelector('main[data-ready="overview"]');
    expect(await page.textContent('#signed-in-as')).to.equal(ERIN_ACTOR);
    const cookie = (await context.cookies(gateway.adminUrl + '/api/v1/')).find((c) => c.name === 'portcullis_session');
    expect(cookie).to.deep.include({ httpOnly: true, sameSite: 'Strict', path: '/api/v1' });
  });

  it('fetches a token from the provider (authorization code with PKCE) in a new window', async () => {
    await open('#/providers?id=corp', 'providers');
    const [popup] = await Promise.all([context.waitForEvent('page'), page.click('button:has-text("Fetch a token (authorization code with PKCE)")')]);
    // erin already has a session at the provider: it may go straight back, or ask again.
    await popup.waitForURL(/\/oauth\/callback|\/interaction\//);
    if (popup.url().includes('/interaction/')) await loginAtOp(popup, op.issuer, 'erin');
    await popup.waitForSelector('h1:has-text("Token from provider corp")');
    const accessToken = (await popup.textContent('dt:has-text("access_token") + dd code'))!;
    expect(accessToken.split('.')).to.have.length(3);
    await popup.close();
    // The token it shows is one the gateway accepts for erin.
    expect((await gatewayCall(accessToken)).status).to.equal(200);
  });

  it('creates a gateway token (secret shown once) and revokes it', async () => {
    await open('#/tokens', 'tokens');
    await page.fill('#new-owner', 'bob');
    await page.fill('#new-name', 'console walk');
    await page.click('form:has(#new-owner) button[type=submit]');
    await page.waitForSelector('#token-secret');
    const secret = (await page.textContent('#token-secret'))!;
    expect(await page.textContent('#new-token pre')).to.include(`Bearer ${secret}`);
    expect((await gatewayCall(secret)).status).to.equal(200);
    await shot('tokens');

    await page.click('tr:has-text("console walk") button.revoke');
    await page.waitForSelector('tr:has-text("console walk") .state.revoked');
    expect((await gatewayCall(secret)).status).to.equal(401);
  });

  it('denies an address in the settings (checked as typed) and a request from it is refused', async () => {
    const jwt = await clientCredentialsToken(op.issuer);
    expect((await gatewayCall(jwt)).status, 'before the change').to.equal(200);
    await open('#/settings', 'settings');
    // Someone else changes the settings meanwhile: the console's save is refused (412) and offers a reload.
    const other = await call(`${gateway.adminUrl}/api/v1/settings`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${adminToken}` },
      body: { rateLimit: { limit: 700 } },
    });
    expect(other.status).to.equal(200);
    await page.fill('#set-ip-deny', '127.0.0.1/32');
    await page.click('#section-restrictions button[type=submit]');
    await page.waitForSelector('#section-restrictions .error[data-code="precondition_failed"]');
    await page.click('#section-restrictions button.reload');
    await page.waitForSelector('#section-restrictions .error', { state: 'detached' });
    expect(await page.inputValue('#set-ip-deny')).to.equal('');
    expect(await page.inputValue('#set-rateLimit-limit')).to.equal('700');

    await page.fill('#set-ip-deny', '127.0.0.300');
    expect(await page.textContent('.field:has(#set-ip-deny) .problem')).to.include('not an IPv4 or IPv6 address or CIDR');
    await page.fill('#set-ip-deny', '127.0.0.1/32');
    expect(await page.textContent('.field:has(#set-ip-deny) .problem')).to.equal('');
    await shot('settings');
    await page.click('#section-restrictions button[type=submit]');
    await page.waitForSelector('#section-restrictions .outcome:has-text("Saved")');
    const denied = await gatewayCall(jwt);
    expect(denied.status).to.equal(403);
    expect((denied.json as { error: string }).error).to.equal('ip_not_allowed');
  });

  it('finds the refused request in the audit log, with its trace', async () => {
    // Decisions reach the store in blocks: look until the refusal is there.
    await eventually(
      async () => {
        await open('#/audit?decision=deny&reason=ip_not_allowed', 'audit');
        return (await page.locator('tr.clickable').count()) > 0;
      },
      { within: 20_000, what: 'the ip_not_allowed decision in the audit log' },
    );
    // Keyboard: the row opens with Enter.
    await page.focus('tr.clickable');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#audit-detail:not([hidden]) .decision');
    const detail = await page.textContent('#audit-detail');
    expect(detail).to.include('ip_not_allowed').and.include('/console-walk');
    expect(await page.locator('#audit-detail table tr:has-text("ip")').count()).to.be.greaterThan(0);
    await shot('audit');

    for (const format of ['csv', 'ndjson'] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`button.export:has-text("Export ${format.toUpperCase()}")`)]);
      const file = join(profile, `export.${format}`);
      await download.saveAs(file);
      const lines = (await readFile(file, 'utf8')).trim().split('\n');
      expect(download.suggestedFilename()).to.match(new RegExp(`\\.${format}$`));
      if (format === 'csv') expect(lines.slice(1).some((l) => l.includes('ip_not_allowed') && l.includes('/console-walk')), lines.join('\n')).to.equal(true);
      else expect(lines.map((l) => JSON.parse(l) as { reason?: string; path?: string }).some((d) => d.reason === 'ip_not_allowed' && d.path === '/console-walk')).to.equal(true);
    }
  });

  it('views the configuration as it was before the change, and simulates reverting to it', async () => {
    await open('#/history', 'history');
    await page.click('#verify');
    await page.waitForSelector('#verify-result .ok');
    expect(await page.textContent('#verify-result')).to.match(/Intact: hash chain checked over \d+ events/);
    const change = page.locator('li.entry[data-type="SettingsChanged"]').first();
    expect(await change.textContent()).to.include('ip.deny').and.include(`by ${ERIN_ACTOR}`);
    await change.locator('button.before-this').click();
    await page.waitForSelector('#as-of #simulate-this');
    const asOf = JSON.parse((await page.textContent('#as-of pre.json'))!) as { ip?: { deny?: string[] } };
    expect(asOf.ip?.deny ?? []).to.deep.equal([]);
    await shot('history');

    await page.click('#simulate-this');
    await page.waitForSelector('main[data-ready="simulate"]');
    expect(await page.inputValue('#candidate')).to.not.include('127.0.0.1/32');
    await page.click('form:has(#candidate) button[type=submit]');
    await page.waitForSelector('#sim-status:has-text("Done")');
    const result = await page.textContent('#sim-result');
    expect(result).to.include('deny/ip_not_allowed');
    expect(await page.textContent('#sim-status')).to.match(/[1-9]\d* would change/);
    await shot('simulate');
  });

  it('shows requests over time, top denials and health on the overview, also at 800 px', async () => {
    await open('#/overview', 'overview');
    await page.waitForSelector('#requests-chart canvas');
    expect(await page.textContent('#readiness')).to.equal('ready');
    expect(await page.textContent('main')).to.include('ip_not_allowed');
    await shot('overview');
    await page.setViewportSize({ width: 800, height: 900 });
    await open('#/providers', 'providers');
    await shot('providers-800px');
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).to.be.at.most(800);
    expect(pageProblems).to.deep.equal([]);
  });
});
