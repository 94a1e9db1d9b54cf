import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStrictJson } from '../../broker/strict-json.ts';
import { codeOf } from '../code-of.ts';

describe('strict JSON body parser', () => {
  it('parses ordinary JSON like JSON.parse', () => {
    const text = '{"name":"web","n":[1,2.5,-3e2,true,false,null],"s":"a\\u00e9\\n\\"b"}';
    expect(parseStrictJson(text)).toEqual(JSON.parse(text));
  });

  it.each([
    ['exact duplicate', '{"image":"ok","image":"evil"}'],
    ['case variant', '{"privileged":false,"Privileged":true}'],
    ['whitespace variant', '{"privileged":false,"privileged ":true}'],
    ['nested duplicate', '{"mounts":[{"source":"/a","Source":"/b"}]}'],
  ])('rejects a duplicate key: %s', (_label, text) => {
    expect(codeOf(() => parseStrictJson(text))).toBe('DL_ERR_BROKER_DUPLICATE_KEY');
  });

  it.each([
    ['trailing comma', '{"a":1,}'],
    ['single quotes', "{'a':1}"],
    ['trailing garbage', '{"a":1} x'],
    ['empty', ''],
    ['NaN', '{"a":NaN}'],
    ['leading zero', '{"a":01}'],
    ['raw control char', '{"a":"\u0001"}'],
    ['prototype pollution', '{"__proto__":{"x":1}}'],
    ['too deep', '['.repeat(100) + ']'.repeat(100)],
    ['huge number', '{"a":1e400}'],
  ])('rejects malformed input: %s', (_label, text) => {
    expect(codeOf(() => parseStrictJson(text))).toBe('DL_ERR_BROKER_MALFORMED_JSON');
  });

  it('round-trips any JSON value whose object keys are unique after case folding', () => {
    const key = fc.stringMatching(/^[a-z]{1,6}$/);
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: 'small' },
        fc.string(),
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
        fc.boolean(),
        fc.constant(null),
        fc.array(tie('v'), { maxLength: 4 }),
        fc.dictionary(key, tie('v'), { maxKeys: 4 }),
      ),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        expect(parseStrictJson(JSON.stringify(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });
});
