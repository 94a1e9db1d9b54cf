// The score contract: /output/score.json = {"score": <number in [0,1]>, "details": {…}}.
import { SCORE_PATH, writeFile } from "./io";

function escape(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 34) out += "\\\"";
    else if (c == 92) out += "\\\\";
    else if (c == 10) out += "\\n";
    else if (c < 32) out += "\\u00" + (c < 16 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out;
}

/** The `details` object, built field by field (keys in insertion order). */
export class Details {
  private parts: string[] = [];

  str(key: string, value: string): Details {
    this.parts.push("\"" + escape(key) + "\":\"" + escape(value) + "\"");
    return this;
  }

  num(key: string, value: f64): Details {
    this.parts.push("\"" + escape(key) + "\":" + (isFinite(value) ? value.toString() : "null"));
    return this;
  }

  int(key: string, value: i64): Details {
    this.parts.push("\"" + escape(key) + "\":" + value.toString());
    return this;
  }

  bool(key: string, value: bool): Details {
    this.parts.push("\"" + escape(key) + "\":" + (value ? "true" : "false"));
    return this;
  }

  toString(): string {
    return "{" + this.parts.join(",") + "}";
  }
}

/** Writes /output/score.json. `score` is clamped to [0, 1]; returns the WASI errno. */
export function writeScore(score: f64, details: Details = new Details()): u16 {
  const s = isNaN(score) ? 0.0 : score < 0.0 ? 0.0 : score > 1.0 ? 1.0 : score;
  const text = "{\"score\":" + s.toString() + ",\"details\":" + details.toString() + "}\n";
  return writeFile(SCORE_PATH, Uint8Array.wrap(String.UTF8.encode(text)));
}

/** Scores 0 with `details.failure = reason`: the submission failed, the evaluation did not. */
export function fail(reason: string, details: Details = new Details()): u16 {
  return writeScore(0.0, details.str("failure", reason));
}
