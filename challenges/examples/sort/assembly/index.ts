// "sort": a code challenge. Miners submit a WebAssembly module exporting
//   memory, alloc(len: i32) -> i32, sort(ptr: i32, len: i32) -> i64
// that sorts `len / 4` little-endian i32s and returns (out_ptr << 32) | out_len (spec/nested.md).
// The challenge draws seeded tasks, runs each in a fresh nested instance with its own fuel budget,
// checks the output against its own sort and scores correct submissions by the fuel they used.
import { readSubmission, writeScore, fail, Details, Rng, Submission, nestedStatusName, log, INFO } from "../../../sdk/assemblyscript/index";

/** Tasks per evaluation and the largest task size (elements). */
const TASKS = 8;
const MAX_N = 600;
/** Fuel budget of one call: far more than an O(n^2) sort of MAX_N needs, far less than an endless loop. */
const CALL_FUEL: u64 = 20_000_000;
/** Output buffer: anything longer than the input is wrong anyway. */
const OUT_CAP = MAX_N * 4;
/**
 * Fuel per n·log2(n) of a good sort (the C quicksort submission uses ~30); a submission using this much or less
 * scores 1 on a task, one using k times more scores 1/k.
 */
const TARGET_FUEL_PER_NLOGN: f64 = 27.0;

function checkSorted(input: Int32Array, output: Uint8Array): bool {
  if (output.length != input.length * 4) return false;
  const expected = input.slice(0);
  expected.sort((a: i32, b: i32): i32 => (a < b ? -1 : a > b ? 1 : 0));
  for (let i = 0; i < expected.length; i++) {
    if (load<i32>(output.dataStart + (<usize>i << 2)) != expected[i]) return false;
  }
  return true;
}

export function _start(): void {
  const sub = Submission.load(readSubmission(), 64, 0);
  if (!sub.loaded) {
    fail(nestedStatusName(sub.handle));
    return;
  }
  const rng = new Rng();
  let total = 0.0;
  let fuel: u64 = 0;
  for (let t = 0; t < TASKS; t++) {
    const n = <i32>(16 + rng.below(MAX_N - 16));
    const input = new Int32Array(n);
    for (let i = 0; i < n; i++) input[i] = <i32>rng.nextU32() >> (t & 7);
    const bytes = Uint8Array.wrap(input.buffer);
    const r = sub.call("sort", bytes, CALL_FUEL, OUT_CAP);
    fuel += r.fuelUsed;
    if (!r.ok) {
      fail(nestedStatusName(r.status), new Details().int("task", t).int("n", n).int("fuel", <i64>fuel));
      return;
    }
    if (!checkSorted(input, r.output)) {
      fail("wrong_answer", new Details().int("task", t).int("n", n));
      return;
    }
    const target = TARGET_FUEL_PER_NLOGN * <f64>n * Math.log2(<f64>n);
    total += min<f64>(1.0, target / <f64>max<u64>(r.fuelUsed, 1));
  }
  log(INFO, "sorted " + TASKS.toString() + " tasks with " + fuel.toString() + " fuel");
  writeScore(total / <f64>TASKS, new Details().int("tasks", TASKS).int("fuel", <i64>fuel));
}
