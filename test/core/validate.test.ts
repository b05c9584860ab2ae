// Tests for Standard Schema validation and field-path rendering.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { expect } from 'chai';
import { z } from 'zod';
import { formatIssuePath, validateWith } from '../../core/validate.js';

describe('core/validate', () => {
  const schema = z.strictObject({
    name: z.string(),
    algorithms: z.array(z.enum(['RS256', 'ES256'])),
    groups: z.object({ mapping: z.record(z.string(), z.number()) }).optional(),
  });

  it('returns the parsed value when valid', async () => {
    const result = await validateWith(schema, { name: 'a', algorithms: ['RS256'] });
    expect(result).to.deep.equal({ ok: true, value: { name: 'a', algorithms: ['RS256'] } });
  });

  it('renders array indexes in brackets and nested keys with dots', async () => {
    const result = await validateWith(schema, { name: 1, algorithms: ['RS256', 'HS256'], groups: { mapping: { ok: 'x' } } });
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.issues.map((i) => i.path)).to.have.members(['name', 'algorithms[1]', 'groups.mapping.ok']);
    for (const issue of result.issues) expect(issue.message).to.be.a('string').and.not.equal('');
  });

  it('reports unknown fields of a strict object', async () => {
    const result = await validateWith(schema, { name: 'a', algorithms: [], extra: true });
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.issues).to.deep.equal([{ path: 'extra', message: 'unknown field' }]);
  });

  it('quotes keys that are not identifiers and handles path segments objects', () => {
    expect(formatIssuePath(['mapping', 'a b', 0, { key: 'c' }, { key: 2 }])).to.equal('mapping["a b"][0].c[2]');
    expect(formatIssuePath(undefined)).to.equal('');
    expect(formatIssuePath([3])).to.equal('[3]');
  });

  it('works with any Standard Schema, sync or async', async () => {
    const custom: StandardSchemaV1<unknown, number> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (value) =>
          typeof value === 'number' ? { value } : { issues: [{ message: 'expected a number', path: [{ key: 'root' }] }] },
      },
    };
    expect(await validateWith(custom, 3)).to.deep.equal({ ok: true, value: 3 });
    expect(await validateWith(custom, 'x')).to.deep.equal({ ok: false, issues: [{ path: 'root', message: 'expected a number' }] });
  });
});
