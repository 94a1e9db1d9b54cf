/**
 * An escrow record as JSON, the one rendering the HTTP API and `docklock escrow … --json` share:
 * keys and values as UTF-8 text when they are, else `{ "hex": … }`, so a consumer parses once.
 */
import type { EscrowRecord } from './book.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes as JSON: UTF-8 text when it is, else `{ "hex": … }`. */
export function bytesJson(b: Uint8Array): string | { hex: string } {
  try {
    return utf8.decode(b);
  } catch {
    return { hex: hex(b) };
  }
}

/** A record with its reads, writes and scans rendered by {@link bytesJson}. */
export function recordJson(r: EscrowRecord): Record<string, unknown> {
  return {
    ...r,
    reads: r.reads.map((x) => ({
      key: bytesJson(x.key),
      version: x.version,
      ...(x.valueHash === undefined ? {} : { valueHash: x.valueHash === null ? null : hex(x.valueHash) }),
    })),
    writes: r.writes.map((w) => ({ key: bytesJson(w.key), value: w.value === null ? null : bytesJson(w.value) })),
    scans: r.scans.map((s) => ({ start: bytesJson(s.start), limit: s.limit, keys: s.keys.map(bytesJson) })),
  };
}
