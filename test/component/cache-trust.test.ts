/**
 * The component cache holds code a run imports (jco's glue) and executes (the core modules), so a
 * folder another user could write is refused with a coded error before anything is read from it,
 * and the instrumented-module cache is not used from such a folder (test/engine/instrument-cache).
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { transpileComponent } from '../../runtime/component/transpile.ts';

const HELLO = new Uint8Array(readFileSync(new URL('../fixtures/wasm/components/hello.wasm', import.meta.url)));
const temp = (): string => mkdtempSync(join(tmpdir(), 'docklock-cache-trust-'));

describe('the component cache folder', () => {
  it('is refused when others may write it, or when it is a symbolic link', async () => {
    const open = join(temp(), 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(transpileComponent(HELLO, open)).rejects.toMatchObject({
      code: 'DL_ERR_COMPONENT_CACHE',
      where: { path: open },
    });
    const real = temp();
    const link = join(temp(), 'link');
    symlinkSync(real, link);
    await expect(transpileComponent(HELLO, link)).rejects.toMatchObject({ code: 'DL_ERR_COMPONENT_CACHE' });
  });

  it('is created private when missing, and used', async () => {
    const dir = join(temp(), 'made', 'here');
    const t = await transpileComponent(HELLO, dir);
    expect(t.cores.size).toBeGreaterThan(0);
    expect(statSync(dir).mode & 0o077).toBe(0);
  }, 120_000);
});
