/** The node's stores on disk: published bundles survive a restart, fetched ones do not; a failed transaction leaves nothing. */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake3 } from '../../index.ts';
import { BundleStore } from '../../p2p/bundles.ts';
import { Store } from '../../p2p/store.ts';
import { hex } from '../../p2p/wire.ts';

describe('the bundle store', () => {
  it('keeps published bundles across a restart and forgets fetched ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dl-p2p-bundles-'));
    const own = new Uint8Array(300_000).fill(1);
    const fetched = new Uint8Array(1000).fill(2);
    const bigFetched = new Uint8Array(2 * 1024 * 1024).fill(3);
    let s = new BundleStore(dir);
    const a = await s.put(own);
    const b = await s.putHashed(hex(blake3(fetched)), fetched);
    expect(s.read(a)).toEqual(own);
    expect(s.read(b)).toEqual(fetched);
    expect(s.size(b)).toBe(1000);
    const c = await s.putHashed(hex(blake3(bigFetched)), bigFetched);
    expect(existsSync(join(dir, 'bundles', 'cache', `${c}.dlb`))).toBe(true);
    expect(s.read(c)).toEqual(bigFetched);
    s = new BundleStore(dir);
    expect(s.read(a)).toEqual(own);
    expect(s.has(b)).toBe(false);
    expect(s.has(c)).toBe(false);
    expect(() => s.read(b)).toThrow(expect.objectContaining({ code: 'DL_ERR_P2P_BUNDLE_NOT_FOUND' }));
    // Fetching a bundle this node already published keeps the durable copy only.
    await s.putHashed(a, own);
    expect(existsSync(join(dir, 'bundles', 'cache', `${a}.dlb`))).toBe(false);
  });
});

describe('the claim store', () => {
  it('commits a transaction at once, and a failed one not at all', () => {
    const st = new Store(mkdtempSync(join(tmpdir(), 'dl-p2p-store-')));
    const row = (id: string) => ({
      id,
      claimer: 'C',
      issuedAt: 1,
      receivedAt: 1,
      envelope: new Uint8Array([1]),
      bundleHash: 'h',
    });
    st.transaction(() => {
      st.addClaim(row('a'));
      st.addClaim(row('b'));
    });
    expect(() =>
      st.transaction(() => {
        st.setState('a', 'expired', 2);
        st.addClaim(row('c'));
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(st.claim('a')?.state).toBe('pending');
    // The in-memory copy of claim rows forgets what the rollback undid.
    expect(st.claimMeta('a')?.state).toBe('pending');
    expect(st.has('claim', 'c')).toBe(false);
    expect(st.claimMeta('c')).toBeUndefined();
    st.setState('b', 'confirmed', 3);
    expect(st.claimMeta('b')?.state).toBe('confirmed');
    expect(st.has('claim', 'b')).toBe(true);
    expect(st.has('verdict', 'b')).toBe(false);
    st.close();
  });
});
