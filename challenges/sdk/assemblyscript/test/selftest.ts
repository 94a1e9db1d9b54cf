// Exercises every SDK function once and prints `key=value` lines (test/challenges/sdk.test.ts runs
// it with a sort submission as the submission and $URL pointing at a local server).
import { readSubmission, submissionSize, readStdin, randomBytes, Rng, nowNs, monotonicNs, getEnv, httpGet, httpRequestWithHeaders, log, INFO, Submission, nestedStatusName, writeScore, fail, Details, print, stateGet, stateGetText, statePutText, stateScan, stateDelete } from "../index";

function hex(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

export function _start(): void {
  const sub = readSubmission();
  const stdin = readStdin();
  print("submission_len=" + sub.length.toString() + "\n");
  print("submission_size=" + submissionSize().toString() + "\n");
  print("stdin_same=" + (stdin.length == sub.length && hex(stdin.subarray(0, 16)) == hex(sub.subarray(0, 16)) ? "true" : "false") + "\n");
  print("random=" + hex(randomBytes(8)) + "\n");
  print("rng=" + new Rng().below(1000).toString() + "\n");
  const t0 = nowNs();
  const t1 = nowNs();
  print("clock_step=" + (t1 - t0).toString() + "\n");
  print("monotonic=" + monotonicNs().toString() + "\n");
  const url = getEnv("URL");
  print("env=" + (url !== null ? url : "(none)") + "\n");
  print("env_missing=" + (getEnv("NOPE") === null ? "null" : "set") + "\n");
  const res = httpGet(url !== null ? url : "");
  print("http_status=" + res.status.toString() + "\n");
  print("http_body=" + res.text() + "\n");
  print("http_denied=" + httpGet("http://example.com/").status.toString() + "\n");
  const rh = httpRequestWithHeaders("GET", url !== null ? url : "", [["x-ask", "echo me"]]);
  const echo = rh.header("X-Echo");
  print("http_h_status=" + rh.status.toString() + "\n");
  print("http_h_echo=" + (echo !== null ? echo : "(none)") + "\n");
  print("http_h_body=" + rh.text() + "\n");
  print("http_h_missing=" + (rh.header("x-nope") === null ? "null" : "set") + "\n");
  print("http_h_invalid=" + httpRequestWithHeaders("GET", url !== null ? url : "", [["no colon\r\nx", "y"]]).status.toString() + "\n");
  log(INFO, "selftest log line");
  const s = Submission.load(sub);
  print("load=" + s.handle.toString() + "\n");
  const input = new Int32Array(3);
  input[0] = 3; input[1] = -1; input[2] = 2;
  const r = s.call("sort", Uint8Array.wrap(input.buffer), 1_000_000);
  const out = Int32Array.wrap(r.output.buffer, r.output.byteOffset, r.output.length >> 2);
  print("call_status=" + nestedStatusName(r.status) + "\n");
  print("call_output=" + (out.length == 3 ? out[0].toString() + "," + out[1].toString() + "," + out[2].toString() : "?") + "\n");
  print("call_fuel_positive=" + (r.fuelUsed > 0 ? "true" : "false") + "\n");
  print("call_missing=" + nestedStatusName(s.call("nope", input.length > 0 ? Uint8Array.wrap(input.buffer) : new Uint8Array(0), 1000).status) + "\n");
  print("call_no_fuel=" + nestedStatusName(s.call("sort", Uint8Array.wrap(input.buffer), 10).status) + "\n");
  const bad = Submission.load(Uint8Array.wrap(String.UTF8.encode("not wasm")));
  print("load_invalid=" + nestedStatusName(bad.handle) + "\n");
  print("state_missing=" + (stateGet("k") === null ? "true" : "false") + "\n");
  print("state_put=" + statePutText("k", "v1").toString() + "\n");
  print("state_get=" + stateGetText("k", "(none)") + "\n");
  print("state_scan=" + stateScan("", 10).length.toString() + "\n");
  print("state_delete=" + stateDelete("k").toString() + "\n");
  print("state_after_delete=" + (stateGet("k") === null ? "none" : "some") + "\n");
  if (sub.length == 0) fail("empty");
  else writeScore(0.5, new Details().str("quote", "a\"b\\c\n").num("half", 0.5).int("big", 1234567890123).bool("yes", true));
}
