/**
 * The one canonical MessagePack encoder: arrays in a fixed field order, no records, no maps with
 * free key order, 64-bit integers as bigint (spec/witness.md). Bundles, results, canonical
 * manifests, witness entries and recorded network exchanges all pack with it, so they cannot drift
 * apart in options. A `Packr` keeps no state between calls with these options, so one is shared.
 *
 * It also reads them, from hostile hands (bundles, peers' claims), and there msgpackr reads more
 * than docklock writes: its extension types (structured-clone references, typed arrays, BigInt,
 * Set, RegExp, Error, Date, `undefined`) are registered for every reader in the process. The
 * canonical format has no extension type, so a value holding one is refused before msgpackr sees
 * it: otherwise a reference could make one witness decode to fields its bytes do not hold, which
 * the witness's own reader (witness/decode-log.ts) refuses, and the two would disagree.
 */
import { Packr } from 'msgpackr';

/** Extension type markers: fixext 1/2/4/8/16 and ext 8/16/32 (MessagePack spec, "ext format family"). */
function isExtension(t: number): boolean {
  return (t >= 0xd4 && t <= 0xd8) || (t >= 0xc7 && t <= 0xc9);
}

/**
 * Walks the MessagePack values in `bytes` (one or several, back to back) without building them
 * and throws at the first extension type. Truncated or malformed input is left to msgpackr, which
 * reports it; the walk only stops at the end of the bytes.
 */
export function assertNoExtensions(bytes: Uint8Array): void {
  // Every value's first byte comes in order, a container's elements right after it: one pass
  // over the headers, skipping string and binary payloads, sees every type marker.
  const n = bytes.length;
  let p = 0;
  const be = (at: number, size: number): number => {
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + (bytes[at + i] ?? 0);
    return v;
  };
  while (p < n) {
    const t = bytes[p]!;
    if (isExtension(t)) throw new Error(`extension type at byte ${p}: not part of docklock's canonical MessagePack`);
    p++;
    if (t <= 0x7f || t >= 0xe0 || t === 0xc0 || t === 0xc2 || t === 0xc3) continue;
    if (t <= 0x9f) continue; // fixmap, fixarray: their elements follow
    if (t <= 0xbf) p += t & 0x1f;
    else if (t === 0xc4 || t === 0xd9) p += 1 + be(p, 1);
    else if (t === 0xc5 || t === 0xda) p += 2 + be(p, 2);
    else if (t === 0xc6 || t === 0xdb) p += 4 + be(p, 4);
    else if (t === 0xcc || t === 0xd0) p += 1;
    else if (t === 0xcd || t === 0xd1) p += 2;
    else if (t === 0xce || t === 0xd2 || t === 0xca) p += 4;
    else if (t === 0xcf || t === 0xd3 || t === 0xcb) p += 8;
    else if (t === 0xdc || t === 0xde)
      p += 2; // array 16, map 16: their elements follow
    else if (t === 0xdd || t === 0xdf) p += 4;
    // 0xc1 (never used): msgpackr refuses it.
    else return;
  }
}

/** msgpackr's Packr, reading only what contains no extension type (see the module comment). */
class CanonicalPackr extends Packr {
  override unpack(bytes: Uint8Array, options?: Parameters<Packr['unpack']>[1]): ReturnType<Packr['unpack']> {
    assertNoExtensions(bytes);
    return super.unpack(bytes, options);
  }

  override unpackMultiple(bytes: Uint8Array): unknown[];
  override unpackMultiple(bytes: Uint8Array, forEach: (value: unknown, start?: number, end?: number) => unknown): void;
  override unpackMultiple(
    bytes: Uint8Array,
    forEach?: (value: unknown, start?: number, end?: number) => unknown,
  ): unknown[] | undefined {
    assertNoExtensions(bytes);
    if (forEach === undefined) return super.unpackMultiple(bytes);
    super.unpackMultiple(bytes, forEach);
    return undefined;
  }
}

export const canonicalPackr = /* @__PURE__ */ new CanonicalPackr({
  useRecords: false,
  int64AsType: 'bigint',
  mapsAsObjects: false,
  // Belt and braces: msgpackr then refuses its reference extensions itself.
  structuredClone: false,
});
