// Method-override headers as the gateway reads them into the AccessRequest: every spelling CGI-style servers merge.
import { expect } from 'chai';
import type { IncomingMessage } from 'node:http';

import { methodOverrideOf, toAccessRequest } from '../../../server/gateway/access-request.js';

const headers = (h: Record<string, string | string[]>): IncomingMessage['headers'] => h;

describe('server/access-request: method override', () => {
  it('reads the three override headers in dashed, underscore and mixed spellings, upper-cased', () => {
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x_http_method_override', 'x_http_method', 'x_method_override', 'x-http_method-override']) {
      expect(methodOverrideOf(headers({ [name]: ' delete ' })), name).to.equal('DELETE');
    }
  });

  it('joins several, keeps an empty one, and ignores other headers', () => {
    expect(methodOverrideOf(headers({ 'x-http-method-override': 'GET', x_method_override: 'DELETE' }))).to.equal('GET,DELETE');
    expect(methodOverrideOf(headers({ 'x-http-method': '' }))).to.equal('');
    expect(methodOverrideOf(headers({ 'x-http-method-overrides': 'DELETE', 'x-method': 'DELETE', 'x-http-methodoverride': 'PUT', accept: '*/*' }))).to.equal(undefined);
  });

  it('puts it on the AccessRequest the pipeline judges', () => {
    const req = { headers: headers({ host: 'api.example', 'x-http-method-override': 'patch' }) } as IncomingMessage;
    const request = toAccessRequest(req, 'r1', { method: 'GET', url: '/x', host: 'api.example' }, '192.0.2.1', '192.0.2.1', 0);
    expect(request).to.include({ method: 'GET', methodOverride: 'PATCH' });
    const plain = toAccessRequest({ headers: headers({ host: 'api.example' }) } as IncomingMessage, 'r2', { method: 'GET', url: '/x', host: 'api.example' }, '192.0.2.1', '192.0.2.1', 0);
    expect(plain).not.to.have.property('methodOverride');
  });
});
