/**
 * The one canonical MessagePack encoder: arrays in a fixed field order, no records, no maps with
 * free key order, 64-bit integers as bigint (spec/witness.md). Bundles, results, canonical
 * manifests, witness entries and recorded network exchanges all pack with it, so they cannot drift
 * apart in options. A `Packr` keeps no state between calls with these options, so one is shared.
 */
import { Packr } from 'msgpackr';

export const canonicalPackr = /* @__PURE__ */ new Packr({
  useRecords: false,
  int64AsType: 'bigint',
  mapsAsObjects: false,
});
