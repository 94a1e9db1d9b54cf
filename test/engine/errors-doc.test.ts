import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, TRAP_CODES, createError, httpStatusOf, isErrorCode } from '../../errors/index.ts';
import type { ErrorCode } from '../../errors/index.ts';
import { DocklockError, InputError, Trap } from '../../runtime/errors.ts';
import { BrokerError, Errors } from '../../broker/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const registered = Object.keys(ERROR_CODES) as ErrorCode[];

// The registry is the list of codes: the types refuse an unregistered code at compile time, so
// this test reads the registry instead of scraping the sources.
describe('the error registry and docs/errors.md', () => {
  it.each(registered)('has an anchor for %s', (code) => {
    expect(doc).toContain(`<a id="${code}"></a>`);
  });

  it('documents no code that is not registered', () => {
    const anchors = [...doc.matchAll(/<a id="(DL_ERR_[A-Z0-9_]+)"><\/a>/g)].map((m) => m[1]!);
    expect(anchors.filter((a) => !isErrorCode(a))).toEqual([]);
    expect(new Set(anchors).size).toBe(anchors.length);
  });

  it('registers every trap code and the two broker client codes', () => {
    for (const t of TRAP_CODES) expect(isErrorCode(`DL_ERR_TRAP_${t.toUpperCase()}`)).toBe(true);
    expect(isErrorCode('DL_ERR_BROKER_HTTP')).toBe(true);
    expect(httpStatusOf('DL_ERR_BROKER_TIMEOUT')).toBe(504);
    expect(new Trap('unreachable', 'x').code).toBe('DL_ERR_TRAP_UNREACHABLE');
  });

  it("gives every broker factory's error the status registered for its code", () => {
    for (const make of Object.values(Errors)) {
      const e = make('m');
      expect(e).toBeInstanceOf(BrokerError);
      expect(e).toBeInstanceOf(DocklockError);
      expect(isErrorCode(e.code)).toBe(true);
      expect(e.statusCode).toBe(httpStatusOf(e.code as ErrorCode));
    }
  });
});

describe('createError', () => {
  it('builds a coded class that fills %s, carries where and cause, and is a DocklockError', () => {
    const NoEntry = createError('DL_ERR_CAGE_NO_ENTRY', 'no function "%s" among %s exports');
    const cause = new Error('inner');
    const e = new NoEntry(['_start', 3], { where: { field: 'entry' }, cause });
    expect(e.message).toBe('no function "_start" among 3 exports');
    expect(e.code).toBe('DL_ERR_CAGE_NO_ENTRY');
    expect(NoEntry.code).toBe('DL_ERR_CAGE_NO_ENTRY');
    expect(e.where).toEqual({ field: 'entry' });
    expect(e.cause).toBe(cause);
    expect(e).toBeInstanceOf(DocklockError);
    expect(e.toJSON()).toEqual({
      code: 'DL_ERR_CAGE_NO_ENTRY',
      message: 'no function "_start" among 3 exports',
      where: { field: 'entry' },
    });
  });

  it('extends the base it is given and takes the registry status', () => {
    const Bad = createError('DL_ERR_MANIFEST_TYPE', '%s must be a mapping', undefined, InputError);
    expect(new Bad(['limits'])).toBeInstanceOf(InputError);
    const Nf = createError('DL_ERR_BROKER_NOT_FOUND', 'gone');
    expect(Nf.httpStatus).toBe(404);
    expect(new Nf().httpStatus).toBe(404);
  });

  it('refuses an unregistered code and a status that disagrees with the registry', () => {
    expect(() => createError('DL_ERR_NOPE' as ErrorCode, 'x')).toThrow(/not a registered error code/);
    expect(() => createError('DL_ERR_BROKER_NOT_FOUND', 'x', 400)).toThrow(/registered with HTTP status 404/);
  });

  it('rebuilds a transported error from {code, message, where} with no stack of the sender', () => {
    const e = DocklockError.fromJSON({
      code: 'DL_ERR_CAGE_WATCHDOG',
      message: 'late',
      where: { field: 'limits.wallClockMs' },
    });
    expect(e).toBeInstanceOf(DocklockError);
    expect(e.toJSON()).toEqual({
      code: 'DL_ERR_CAGE_WATCHDOG',
      message: 'late',
      where: { field: 'limits.wallClockMs' },
    });
  });
});

describe('the cage error transport', () => {
  it('carries {code, message, where} and never a stack, for our errors and for bugs alike', async () => {
    const { errorFromWire, errorToWire } = await import('../../runtime/cage/transport.ts');
    const ours = new InputError('DL_ERR_MANIFEST_TYPE', 'limits must be a mapping', { field: 'limits' });
    expect(errorToWire(ours)).toEqual({
      code: 'DL_ERR_MANIFEST_TYPE',
      message: 'limits must be a mapping',
      where: { field: 'limits' },
    });
    const bug = errorToWire(new TypeError('x is undefined'));
    expect(bug.code).toBe('DL_ERR_INTERNAL');
    expect(bug.message).toContain('TypeError: x is undefined');
    expect(JSON.stringify(bug)).not.toMatch(/ at |\.ts:\d+/);
    const back = errorFromWire(errorToWire(ours));
    expect(back).toBeInstanceOf(DocklockError);
    expect(back.toJSON()).toEqual(ours.toJSON());
  });
});
