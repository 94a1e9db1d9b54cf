import { describe, expect, it } from 'vitest';
import { ReplayQueue } from '../../p2p/replay-queue.ts';
import { Slots } from '../../p2p/slots.ts';

/** A job that runs until released, recording that it started. */
function gate(started: string[], name: string): { job: () => Promise<void>; release: () => void } {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    job: () => {
      started.push(name);
      return done;
    },
    release,
  };
}

describe('the replay queue', () => {
  it('runs up to its concurrency within its weight budget, in order; one job runs whatever its weight', async () => {
    const q = new ReplayQueue(3, 10, 100);
    const started: string[] = [];
    const big = gate(started, 'big');
    const a = gate(started, 'a');
    const b = gate(started, 'b');
    const c = gate(started, 'c');
    expect(q.push(big.job, 500)).toBe(true); // over the budget alone: runs, alone
    expect(q.push(a.job, 60)).toBe(true);
    expect(q.push(b.job, 40)).toBe(true);
    expect(q.push(c.job, 1)).toBe(true);
    expect(started).toEqual(['big']);
    big.release();
    await new Promise((r) => setTimeout(r, 0));
    // a (60) and b (40) fill the budget; c waits for room, though the concurrency would allow it.
    expect(started).toEqual(['big', 'a', 'b']);
    expect(q.running).toBe(2);
    a.release();
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual(['big', 'a', 'b', 'c']);
    b.release();
    c.release();
    await q.idle();
  });

  it('refuses a job past its capacity', () => {
    const q = new ReplayQueue(1, 1);
    const started: string[] = [];
    expect(q.push(gate(started, 'running').job)).toBe(true);
    expect(q.push(gate(started, 'waiting').job)).toBe(true);
    expect(q.push(gate(started, 'refused').job)).toBe(false);
    expect(q.waiting).toBe(1);
  });
});

describe('turns between claimers', () => {
  it("starts jobs in turns by key: one peer's many jobs delay another's by one per turn, and a new key never jumps the rotation", async () => {
    const q = new ReplayQueue(1, 100);
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const push = (key: string, name: string): void => {
      const g = gate(started, name);
      gates.set(name, g);
      expect(q.push(g.job, 0, key)).toBe(true);
    };
    push('hostile', 'h1'); // runs at once
    for (const n of ['h2', 'h3', 'h4', 'h5']) push('hostile', n);
    push('honest', 'a1');
    push('honest', 'a2');
    push('sybil', 's1');
    const step = async (name: string): Promise<void> => {
      gates.get(name)!.release();
      await new Promise((r) => setTimeout(r, 0));
    };
    for (const n of ['h1', 'h2', 'a1', 's1', 'h3', 'a2', 'h4']) await step(n);
    // A key that arrives later takes its turn after those already waiting.
    push('late', 'l1');
    await step('h5');
    await step('l1');
    expect(started).toEqual(['h1', 'h2', 'a1', 's1', 'h3', 'a2', 'h4', 'h5', 'l1']);
    await q.idle();
  });
});

describe('slots', () => {
  it('runs at most n tasks at once, the others in order, and frees a slot when a task fails', async () => {
    const s = new Slots(2);
    const started: string[] = [];
    const gates = ['a', 'b', 'c', 'd'].map((n) => gate(started, n));
    const runs = gates.map((g, i) => s.run(i === 0 ? () => g.job().then(() => Promise.reject(new Error('x'))) : g.job));
    await new Promise((r) => setTimeout(r, 0));
    expect(started).toEqual(['a', 'b']);
    gates[0]!.release();
    await expect(runs[0]).rejects.toThrow('x');
    expect(started).toEqual(['a', 'b', 'c']);
    for (const g of gates) g.release();
    await Promise.all(runs.slice(1));
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });
});
