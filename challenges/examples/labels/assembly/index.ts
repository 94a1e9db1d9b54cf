// "labels": a data challenge. The submission is a text file with one predicted label per line; the
// ground truth is fetched over recorded HTTP from $TRUTH_URL (the manifest's env; allow-listed in
// network.allow), so a replay sees exactly the answers this evaluation saw without the network.
// The score is the fraction of lines that match.
import { readSubmission, submissionSize, writeScore, fail, Details, httpGet, log, INFO, WARN, getEnv, exit, nowNs } from "../../../sdk/assemblyscript/index";

/** Submissions larger than this are not read further than needed: more lines than items is wrong anyway. */
const MAX_LINES = 10_000;
/** A submission this large cannot be a label file for this data set; refusing it before decoding keeps a
 *  miner from exhausting the challenge's own memory (which would be reported as the challenge failing). */
const MAX_BYTES = 1 << 20;

function lines(text: string): string[] {
  const out = text.split("\n");
  if (out.length > 0 && out[out.length - 1].length == 0) out.pop();
  for (let i = 0; i < out.length; i++) if (out[i].endsWith("\r")) out[i] = out[i].substring(0, out[i].length - 1);
  return out;
}

export function _start(): void {
  const started = nowNs();
  const truthUrl = getEnv("TRUTH_URL");
  const res = httpGet(truthUrl !== null ? truthUrl : "");
  if (!res.ok) {
    // The challenge could not get its ground truth: an evaluation failure, not the miner's fault.
    log(WARN, "ground truth unavailable: status " + res.status.toString());
    exit(3);
    return;
  }
  const truth = lines(res.text());
  const size = submissionSize();
  if (size > MAX_BYTES) {
    fail("too_large", new Details().int("bytes", size).int("max", MAX_BYTES));
    return;
  }
  const bytes = readSubmission();
  const text = String.UTF8.decode(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const guesses = lines(text);
  if (guesses.length > MAX_LINES || guesses.length != truth.length) {
    fail("wrong_line_count", new Details().int("expected", truth.length).int("got", guesses.length));
    return;
  }
  let correct = 0;
  for (let i = 0; i < truth.length; i++) if (guesses[i] == truth[i]) correct++;
  log(INFO, correct.toString() + " of " + truth.length.toString() + " correct");
  writeScore(<f64>correct / <f64>truth.length, new Details().int("correct", correct).int("total", truth.length).int("virtual_ns", <i64>(nowNs() - started)));
}
