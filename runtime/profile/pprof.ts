/**
 * pprof (profile.proto, gzipped, as `go tool pprof` reads it) through `pprof-format`. Two sample
 * values: `fuel/count` (the default) and `calls/count`; one location per function name.
 * Deterministic: no timestamps, and ids follow the profile's sorted order.
 */
import { gzipSync } from 'node:zlib';
import { Function as PFunction, Location, Profile as PProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { stacks } from './model.ts';
import type { Profile } from './model.ts';

export function toPprof(p: Profile): Uint8Array {
  const strings = new StringTable();
  const functions: PFunction[] = [];
  const locations: Location[] = [];
  const ids = new Map<string, number>();
  const locationOf = (name: string): number => {
    let id = ids.get(name);
    if (id === undefined) {
      id = functions.length + 1;
      const s = strings.dedup(name);
      functions.push(new PFunction({ id, name: s, systemName: s }));
      locations.push(new Location({ id, line: [{ functionId: id }] }));
      ids.set(name, id);
    }
    return id;
  };
  const samples: Sample[] = [];
  for (const { path, self } of stacks(p)) {
    const leaf = path[path.length - 1]!;
    samples.push(new Sample({ locationId: path.map((n) => locationOf(n.name)).reverse(), value: [self, leaf.calls] }));
  }
  const fuel = new ValueType({ type: strings.dedup('fuel'), unit: strings.dedup('count') });
  const calls = new ValueType({ type: strings.dedup('calls'), unit: strings.dedup('count') });
  const profile = new PProfile({
    sampleType: [fuel, calls],
    sample: samples,
    location: locations,
    function: functions,
    stringTable: strings,
    periodType: new ValueType({ type: strings.dedup('fuel'), unit: strings.dedup('count') }),
    period: 1,
    defaultSampleType: strings.dedup('fuel'),
  });
  // zlib writes no timestamp into a gzip header Node makes (mtime 0): the same profile, the same bytes.
  return new Uint8Array(gzipSync(profile.encode(), { level: 9 }));
}
