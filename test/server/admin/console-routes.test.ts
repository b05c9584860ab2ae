// The console's static files on the admin listener: the esbuild bundle, served without the admin token, with a strict CSP, and nothing else reachable.
import { expect } from 'chai';
import request from 'supertest';

import { silentLogger } from '../../../core/logger.js';
import type { Runtime } from '../../../server/runtime/runtime.js';
import { createAdminApp } from '../../../server/admin/app.js';
import { listen, startRuntime, type Listening } from '../fixtures.js';

describe('server/admin console files', () => {
  let runtime: Runtime;
  let listening: Listening;

  before(async () => {
    ({ runtime } = await startRuntime());
    listening = await listen(createAdminApp({ runtime, logger: silentLogger }).callback());
  });

  after(async () => {
    await listening.close();
    await runtime.close();
  });

  const get = (path: string) => request(listening.url).get(path);

  it('serves the page and its bundle without a credential, under a strict Content-Security-Policy', async () => {
    await get('/console').expect(308).expect('location', '/console/');
    const page = await get('/console/').expect(200).expect('content-type', /^text\/html/);
    expect(page.text).to.include('<script type="module" src="main.js">');
    expect(page.text).not.to.match(/<script>|\son\w+=/); // no inline script or handler: the CSP would refuse it
    const csp = page.headers['content-security-policy'] as string;
    expect(csp).to.include("script-src 'self'").and.include("frame-ancestors 'none'").and.include("default-src 'none'");
    expect(csp).not.to.include('unsafe');
    expect(page.headers['x-content-type-options']).to.equal('nosniff');
    // One bundle (esbuild): the pages and ipaddr.js inside it, uPlot in a chunk it imports; uPlot's CSS inside console.css.
    const main = await get('/console/main.js').expect(200).expect('content-type', /^text\/javascript/);
    expect(main.text).to.include('Sign in with').and.include('isValidCIDR');
    expect(main.text).not.to.match(/from\s*["']\.\/api\.js["']/);
    const chunk = /["'](\.\/chunks\/uPlot[\w.-]*\.js)["']/.exec(main.text)?.[1];
    expect(chunk, 'the uPlot chunk main.js imports').to.be.a('string');
    await get(`/console/${chunk!.slice(2)}`).expect(200).expect('content-type', /^text\/javascript/);
    expect((await get('/console/console.css').expect(200).expect('content-type', /^text\/css/)).text).to.include('.uplot');
    await get('/console/main.js.map').expect(200);
  });

  it('reaches nothing outside the built console (no file from node_modules)', async () => {
    for (const path of [
      '/console/nope.js',
      '/console/vendor/uplot.js',
      '/console/vendor/koa.js',
      '/console/pages/providers.js',
      '/console/%2e%2e/%2e%2e/package.json',
      '/console/../server/cli.js',
      '/console/api.ts',
      '/console/generated/admin-api.d.ts',
    ]) {
      const res = await get(path);
      expect(res.status, path).to.equal(404);
      expect(res.body.error, path).to.equal('not_found');
    }
    // The API around it still wants the token.
    await get('/api/v1/settings').expect(401);
    await get('/CONSOLE/').expect(401);
  });
});
