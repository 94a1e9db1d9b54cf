/**
 * Crash-test worker (test/escrow/crash.test.ts): commits read-modify-write increments of one
 * counter through the escrow as fast as it can, until it is killed with SIGKILL.
 */
import { Escrow } from '../../escrow/escrow.ts';

const enc = new TextEncoder();
const dir = process.argv[2]!;
const escrow = await Escrow.open(dir);
const hash = 'ab'.repeat(32);
process.send?.('ready');
for (let n = 0; ; n++) {
  const base = escrow.state.head('ctr');
  const read = escrow.state.get('ctr', enc.encode('count'), base);
  const count = read.entry === undefined ? 0 : Number(new TextDecoder().decode(read.entry.value));
  const { record } = await escrow.escrow({
    state: 'ctr',
    miner: 'm',
    submission: enc.encode(`submission ${n}`),
    resultHash: hash,
    base,
    reads: [{ key: enc.encode('count'), version: read.version }],
    writes: [
      { key: enc.encode('count'), value: enc.encode(String(count + 1)) },
      { key: enc.encode(`e:${process.pid}:${n}`), value: enc.encode('applied') },
    ].sort((a, b) => Buffer.compare(a.key, b.key)),
  });
  for (const juror of ['x', 'y']) await escrow.addVerdict(record.id, { juror, resultHash: hash }, { decide: false });
  await escrow.addVerdict(record.id, { juror: 'z', resultHash: hash });
}
