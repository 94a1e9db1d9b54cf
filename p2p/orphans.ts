/**
 * Verdicts that arrived before their claim (gossip does not order messages), held until the claim
 * comes and bounded by their total envelope bytes, not by a count: a hostile peer signing verdicts
 * on made-up claim ids fills at most `capBytes`, and the oldest held claims are dropped first so
 * honest verdicts still find room. A dropped verdict is not lost to the network: catch-up and the
 * replayers' own gossip deliver it again once the claim is known.
 */
/** Verdicts held for one claim at most (a claim gets about k of them). */
const PER_CLAIM = 64;

export class OrphanVerdicts {
  readonly #cap: number;
  // Insertion order is age order: Map iteration drops the oldest claim first.
  readonly #byClaim = new Map<string, Map<string, Uint8Array>>();
  readonly #ids = new Set<string>();
  #bytes = 0;

  constructor(capBytes: number) {
    this.#cap = capBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a verdict with this id is held. */
  has(verdictId: string): boolean {
    return this.#ids.has(verdictId);
  }

  hold(claimId: string, verdictId: string, envelope: Uint8Array): void {
    if (this.#ids.has(verdictId) || envelope.length > this.#cap) return;
    let held = this.#byClaim.get(claimId);
    if (held !== undefined && held.size >= PER_CLAIM) return;
    while (this.#bytes + envelope.length > this.#cap) {
      const oldest = this.#byClaim.keys().next().value;
      if (oldest === undefined) break;
      this.takeFor(oldest);
    }
    if (held === undefined || !this.#byClaim.has(claimId)) {
      held = new Map();
      this.#byClaim.set(claimId, held);
    }
    held.set(verdictId, envelope);
    this.#ids.add(verdictId);
    this.#bytes += envelope.length;
  }

  /** Removes and returns the verdicts held for a claim. */
  takeFor(claimId: string): Uint8Array[] {
    const held = this.#byClaim.get(claimId);
    if (held === undefined) return [];
    this.#byClaim.delete(claimId);
    for (const [id, env] of held) {
      this.#ids.delete(id);
      this.#bytes -= env.length;
    }
    return [...held.values()];
  }
}
