// Forward auth reads the request it is asked about from one named header set; other forms must agree.
import { expect } from 'chai';

import { compileForwardedRequest, type DecideCall } from '../../core/forward-auth.js';

const call = (headers: Record<string, string>, url = '/_portcullis/decide', method = 'GET'): DecideCall => ({ method, url, headers });
const FORWARDED = { 'x-forwarded-method': 'DELETE', 'x-forwarded-uri': '/api/x?y=1', 'x-forwarded-host': 'API.Example.' };
const ORIGINAL = { 'x-original-method': 'DELETE', 'x-original-uri': '/api/x?y=1', 'x-original-host': 'api.example:80' };

describe('core/forward-auth', () => {
  it('x-forwarded: reads X-Forwarded-Method, -Uri and -Host, the host normalised', () => {
    const read = compileForwardedRequest('x-forwarded');
    expect(read(call(FORWARDED))).to.deep.equal({ method: 'DELETE', url: '/api/x?y=1', host: 'api.example' });
    // The decide call's own method and Host play no part.
    expect(read(call({ ...FORWARDED, host: 'gateway.internal' }, '/_portcullis/decide?x', 'POST'))).to.deep.equal({ method: 'DELETE', url: '/api/x?y=1', host: 'api.example' });
  });

  it('x-original: reads X-Original-Method, -URI and -Host', () => {
    const read = compileForwardedRequest('x-original');
    expect(read(call(ORIGINAL))).to.deep.equal({ method: 'DELETE', url: '/api/x?y=1', host: 'api.example' });
    expect(read(call(FORWARDED))).to.have.property('error');
  });

  it('envoy: the appended path and query, the decide call’s method and Host', () => {
    const read = compileForwardedRequest('envoy');
    expect(read(call({ host: 'Jira.Example' }, '/_portcullis/decide/rest/api?x=1', 'PUT'))).to.deep.equal({ method: 'PUT', url: '/rest/api?x=1', host: 'jira.example' });
    expect(read(call({ host: 'jira.example' }, '/_portcullis/decide/', 'GET'))).to.deep.equal({ method: 'GET', url: '/', host: 'jira.example' });
    expect(read(call({ host: 'jira.example' }))).to.have.property('error');
    expect(read(call({ host: 'jira.example' }, '/_portcullis/decide?/x'))).to.have.property('error');
    expect(read(call({}, '/_portcullis/decide/x'))).to.have.property('error');
  });

  it('refuses a named set with a field missing: never a guessed GET /', () => {
    const read = compileForwardedRequest('x-forwarded');
    for (const missing of Object.keys(FORWARDED)) {
      const headers: Record<string, string> = { ...FORWARDED };
      delete headers[missing];
      expect(read(call(headers)), missing).to.have.property('error').that.includes(missing.replace(/^x-forwarded-(\w)/, (_m, c: string) => `X-Forwarded-${c.toUpperCase()}`));
    }
    expect(read(call({}))).to.have.property('error');
  });

  it('refuses a method that is not one token, and a host that is not one host', () => {
    const read = compileForwardedRequest('x-forwarded');
    for (const method of ['GET, POST', 'G ET', '', 'GET\u0000']) expect(read(call({ ...FORWARDED, 'x-forwarded-method': method })), method).to.have.property('error');
    for (const host of ['a.example, b.example', 'a.example/x', 'u@a.example', '']) {
      expect(read(call({ ...FORWARDED, 'x-forwarded-host': host })), host).to.have.property('error');
    }
  });

  it('refuses when another form names another request, field by field', () => {
    const read = compileForwardedRequest('x-forwarded');
    const differing: Record<string, string>[] = [
      { 'x-original-uri': '/public/x' },
      { 'x-original-method': 'GET' },
      { 'x-original-host': 'other.example' },
      { 'x-original-host': 'not a host' },
    ];
    for (const extra of differing) expect(read(call({ ...FORWARDED, ...extra })), JSON.stringify(extra)).to.have.property('error');
    expect(read(call(FORWARDED, '/_portcullis/decide/public/x', 'DELETE'))).to.have.property('error');
    expect(read(call(FORWARDED, '/_portcullis/decide/api/x?y=1', 'GET'))).to.have.property('error');
    // Agreeing forms (method case, host spelling) are fine.
    expect(read(call({ ...FORWARDED, ...ORIGINAL, 'x-original-method': 'delete' }, '/_portcullis/decide/api/x?y=1', 'DELETE'))).to.deep.equal({ method: 'DELETE', url: '/api/x?y=1', host: 'api.example' });
  });

  it('with envoy named, the header forms must agree with the appended request (Host is not compared as another form)', () => {
    const read = compileForwardedRequest('envoy');
    const url = '/_portcullis/decide/api/x?y=1';
    expect(read(call({ host: 'api.example', ...FORWARDED }, url, 'DELETE'))).to.deep.equal({ method: 'DELETE', url: '/api/x?y=1', host: 'api.example' });
    expect(read(call({ host: 'api.example', 'x-forwarded-uri': '/public/x' }, url, 'DELETE'))).to.have.property('error');
    expect(read(call({ host: 'api.example', 'x-original-method': 'GET' }, url, 'DELETE'))).to.have.property('error');
    expect(read(call({ host: 'api.example', 'x-forwarded-host': 'other.example' }, url, 'DELETE'))).to.have.property('error');
  });

  it('does not repeat header values in its errors (a URI may carry a token)', () => {
    const read = compileForwardedRequest('x-forwarded');
    const answer = read(call({ ...FORWARDED, 'x-original-uri': '/api/x?access_token=secret-123' }));
    expect(answer).to.have.property('error').that.does.not.include('secret-123');
  });
});
