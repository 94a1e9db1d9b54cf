// "guess": the smallest complete challenge (the tutorial in challenges/README.md). The submission is
// a decimal number; a target in [0, 1000) is drawn from the run's seeded randomness; the closer the
// guess, the higher the score.
import { readSubmission, writeScore, fail, Details, Rng } from "../../../sdk/assemblyscript/index";

export function _start(): void {
  const bytes = readSubmission();
  if (bytes.length == 0 || bytes.length > 32) {
    fail("not_a_number");
    return;
  }
  let guess: i32 = 0;
  let digits = 0;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (c >= 48 && c <= 57) {
      if (digits++ >= 6) break;
      guess = guess * 10 + (c - 48);
    } else if (c != 10 && c != 13 && c != 32) {
      fail("not_a_number");
      return;
    }
  }
  if (digits == 0) {
    fail("not_a_number");
    return;
  }
  const target = <i32>new Rng().below(1000);
  const distance = abs<i32>(guess - target);
  writeScore(1.0 - <f64>min<i32>(distance, 1000) / 1000.0, new Details().int("guess", guess).int("distance", distance));
}
