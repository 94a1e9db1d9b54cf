/**
 * The shape of a wast2json script (the official WebAssembly core spec tests, converted), and where
 * the corpus lives. The corpus is read in place from `../shared/corpora/wasm-spec` beside the
 * repository; it is never copied into the project.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file is test/engine/spec/script.ts). */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The corpus directory: `<name>/<name>.json` plus the modules it names. */
export const SPEC_DIR = resolve(ROOT, '../shared/corpora/wasm-spec');

/** A value as wast2json writes it: integers and floats as unsigned decimal bit patterns. */
export interface SpecValue {
  type: string;
  /** Bit pattern, `nan:canonical`/`nan:arithmetic`, `null`, a host reference number, or v128 lanes. */
  value?: string | string[];
  lane_type?: string;
}

export interface SpecAction {
  type: 'invoke' | 'get';
  module?: string;
  field: string;
  args?: SpecValue[];
}

export interface SpecCommand {
  type: string;
  line: number;
  filename?: string;
  /** `module`: the `$name` it is bound to; `register`: the module registered (default: the last). */
  name?: string;
  /** `register`: the import module name it is registered under. */
  as?: string;
  action?: SpecAction;
  expected?: SpecValue[];
  text?: string;
  module_type?: 'binary' | 'text';
}

export interface SpecScript {
  name: string;
  commands: SpecCommand[];
}

/** Names of every script in the corpus, sorted. */
export function listScripts(): string[] {
  return readdirSync(SPEC_DIR)
    .filter((n) => statSync(join(SPEC_DIR, n)).isDirectory())
    .sort();
}

export function loadScript(name: string): SpecScript {
  const parsed = JSON.parse(readFileSync(join(SPEC_DIR, name, `${name}.json`), 'utf8')) as { commands: SpecCommand[] };
  return { name, commands: parsed.commands };
}

export function readModule(script: string, filename: string): Uint8Array {
  return new Uint8Array(readFileSync(join(SPEC_DIR, script, filename)));
}
