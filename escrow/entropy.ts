/**
 * The entropy monitor (after the speculative-execution design docklock draws on): Shannon entropy
 * of a submission's bytes, in bits per byte (0 to 8), against a configured band. Packed or
 * encrypted payloads sit near 8, padding near 0; an ordinary compiled module sits in between. A
 * reading outside the band is a flag for the gate, never a veto.
 */
export interface EntropyBand {
  /** Expected bits per byte for submissions to this challenge. */
  readonly baseline: number;
  /** How far from the baseline a reading may be before it is flagged. */
  readonly tolerance: number;
}

export interface EntropyReading {
  readonly bitsPerByte: number;
  readonly flagged: boolean;
  readonly band: EntropyBand;
}

export function shannonEntropy(bytes: Uint8Array): number {
  if (bytes.length === 0) return 0;
  const counts = new Uint32Array(256);
  for (let i = 0; i < bytes.length; i++) counts[bytes[i]!]!++;
  let h = 0;
  for (let b = 0; b < 256; b++) {
    const c = counts[b]!;
    if (c === 0) continue;
    const p = c / bytes.length;
    h -= p * Math.log2(p);
  }
  return h;
}

export function readEntropy(bytes: Uint8Array, band: EntropyBand): EntropyReading {
  const bitsPerByte = shannonEntropy(bytes);
  return { bitsPerByte, flagged: Math.abs(bitsPerByte - band.baseline) > band.tolerance, band };
}
