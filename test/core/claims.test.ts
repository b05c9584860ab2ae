// Tests for claim paths and claim value helpers.
import { expect } from 'chai';
import { claimString, claimStrings, compileClaimPath, getClaim, isClaimPath, scopesOf } from '../../core/claims.js';

describe('core/claims', () => {
  const claims = {
    sub: 'u1',
    realm_access: { roles: ['dev', 'ops'], nested: { deep: 'yes' } },
    'cognito:groups': ['admins'],
    'https://example.com/roles': ['reader'],
    'a.b': 'literal',
    a: { b: 'nested' },
    list: ['x'],
  };

  it('reads top-level and nested claims by dot path', () => {
    expect(getClaim(claims, 'sub')).to.equal('u1');
    expect(getClaim(claims, 'realm_access.roles')).to.deep.equal(['dev', 'ops']);
    expect(getClaim(claims, 'realm_access.nested.deep')).to.equal('yes');
  });

  it('treats a key with a colon as one segment', () => {
    expect(getClaim(claims, 'cognito:groups')).to.deep.equal(['admins']);
  });

  it('finds a top-level key containing dots when it matches the whole path', () => {
    expect(getClaim(claims, 'https://example.com/roles')).to.deep.equal(['reader']);
    expect(getClaim(claims, 'a.b')).to.equal('literal');
  });

  it('returns undefined for missing paths, non-objects and inherited properties', () => {
    expect(getClaim(claims, 'missing')).to.equal(undefined);
    expect(getClaim(claims, 'sub.length')).to.equal(undefined);
    expect(getClaim(claims, 'list.0')).to.equal(undefined);
    expect(getClaim(claims, 'realm_access.missing.deeper')).to.equal(undefined);
    expect(getClaim(claims, 'constructor')).to.equal(undefined);
    expect(getClaim(claims, '__proto__')).to.equal(undefined);
    expect(getClaim(claims, 'realm_access.toString')).to.equal(undefined);
  });

  it('refuses empty paths and empty segments at compile time', () => {
    expect(() => compileClaimPath('')).to.throw(TypeError);
    expect(() => compileClaimPath('a..b')).to.throw(TypeError, "invalid claim path 'a..b'");
    expect(isClaimPath('a..b')).to.equal(false);
    expect(isClaimPath('.a')).to.equal(false);
    expect(isClaimPath('cognito:groups')).to.equal(true);
  });

  it('compiles once and resolves many times', () => {
    const roles = compileClaimPath('realm_access.roles');
    expect(roles(claims)).to.deep.equal(['dev', 'ops']);
    expect(roles({ realm_access: { roles: 'solo' } })).to.equal('solo');
  });

  it('normalises string and list values', () => {
    expect(claimString('x')).to.equal('x');
    expect(claimString('')).to.equal(undefined);
    expect(claimString(3)).to.equal(undefined);
    expect(claimStrings('one')).to.deep.equal(['one']);
    expect(claimStrings(['a', 2, '', 'b', null])).to.deep.equal(['a', 'b']);
    expect(claimStrings({ a: 1 })).to.deep.equal([]);
    expect(claimStrings(undefined)).to.deep.equal([]);
  });

  it('collects scopes from a scope string and an scp array or string', () => {
    expect(scopesOf({ scope: 'read  write' })).to.deep.equal(['read', 'write']);
    expect(scopesOf({ scp: ['read', 'admin'] })).to.deep.equal(['read', 'admin']);
    expect(scopesOf({ scp: 'user.read mail.send' })).to.deep.equal(['user.read', 'mail.send']);
    expect(scopesOf({ scope: 'read', scp: ['read', 'x'] })).to.deep.equal(['read', 'x']);
    expect(scopesOf({})).to.deep.equal([]);
  });
});
