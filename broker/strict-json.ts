/**
 * A strict JSON parser (RFC 8259) for request bodies. `JSON.parse` silently keeps the last of two
 * equal keys, so `{"image":"ok","image":"evil"}` could pass one check and mean another elsewhere;
 * this parser rejects duplicate keys, including variants that differ only in case or surrounding
 * whitespace (`"Privileged"`, `"privileged "`), and prototype-polluting keys. Nesting is bounded.
 */
import { Errors } from './errors.ts';

/** A parsed JSON value. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Parses JSON text strictly.
 * @param text - the body
 * @returns the parsed value
 * @throws {BrokerError} `DL_ERR_BROKER_MALFORMED_JSON` with the offset, or `DL_ERR_BROKER_DUPLICATE_KEY` naming the key path
 * @example
 * parseStrictJson('{"a":1}'); // { a: 1 }
 * parseStrictJson('{"a":1,"A":2}'); // throws DL_ERR_BROKER_DUPLICATE_KEY
 */
export function parseStrictJson(text: string): JsonValue {
  let i = 0;
  const n = text.length;
  const malformed = (why: string): never => {
    throw Errors.malformedJson(`malformed JSON at offset ${i}: ${why}`);
  };
  const ws = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const parseString = (): string => {
    // Caller checked the opening quote.
    i++;
    let out = '';
    let start = i;
    while (true) {
      if (i >= n) malformed('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) malformed('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, i);
        const e = text[i + 1];
        i += 2;
        switch (e) {
          case '"':
            out += '"';
            break;
          case '\\':
            out += '\\';
            break;
          case '/':
            out += '/';
            break;
          case 'b':
            out += '\b';
            break;
          case 'f':
            out += '\f';
            break;
          case 'n':
            out += '\n';
            break;
          case 'r':
            out += '\r';
            break;
          case 't':
            out += '\t';
            break;
          case 'u': {
            const hex = text.slice(i, i + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) malformed('bad \\u escape');
            out += String.fromCharCode(parseInt(hex, 16));
            i += 4;
            break;
          }
          default:
            malformed('bad escape');
        }
        start = i;
        continue;
      }
      i++;
    }
  };
  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
  const parseValue = (depth: number, path: string): JsonValue => {
    if (depth > MAX_DEPTH) malformed(`nesting deeper than ${MAX_DEPTH}`);
    ws();
    if (i >= n) malformed('unexpected end of input');
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: { [key: string]: JsonValue } = {};
      const seen = new Set<string>();
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      while (true) {
        ws();
        if (text[i] !== '"') malformed('expected a string key');
        const key = parseString();
        const keyPath = path === '' ? key : `${path}.${key}`;
        if (FORBIDDEN_KEYS.has(key)) throw Errors.malformedJson(`forbidden key "${key}"`, keyPath);
        // Case- and whitespace-folded: "Image" or "image " next to "image" is an attack, not a typo.
        const folded = key.trim().toLowerCase();
        if (seen.has(folded))
          throw Errors.duplicateKey(
            `duplicate key "${key}" (keys must be unique, ignoring case and surrounding spaces)`,
            keyPath,
          );
        seen.add(folded);
        ws();
        if (text[i] !== ':') malformed('expected ":"');
        i++;
        obj[key] = parseValue(depth + 1, keyPath);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        malformed('expected "," or "}"');
      }
    }
    if (c === '[') {
      i++;
      const arr: JsonValue[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      while (true) {
        arr.push(parseValue(depth + 1, `${path}[${arr.length}]`));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        malformed('expected "," or "]"');
      }
    }
    if (c === '"') return parseString();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null || m[0].length === 0) return malformed(`unexpected character ${JSON.stringify(c)}`);
    i += m[0].length;
    const v = Number(m[0]);
    if (!Number.isFinite(v)) malformed('number out of range');
    return v;
  };
  const value = parseValue(0, '');
  ws();
  if (i !== n) malformed('trailing characters after the JSON value');
  return value;
}
