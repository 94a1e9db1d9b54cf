/**
 * The Store: the state of one run (wasmtime's `Store`, `crates/wasmtime/src/runtime/store.rs`):
 * the engine it compiles with, the manifest, the witness recorder with its mode (record/replay)
 * and guest memory view, and the running instance, which is the run's fuel meter.
 *
 * This file is also the one runtime module host functions import (besides the errors and the
 * witness entry types); it re-exports what a host function needs, so host-functions/ never
 * reaches into the engine's internals (test/internals/layers.test.ts holds it to that).
 */
import type { Engine } from './engine.ts';
import type { Instance } from './instance.ts';
import type { CageManifest } from './manifest/parse.ts';
import type { GuestMemory } from './guest-memory.ts';
import type { HostCalls } from './witness/recorder.ts';

export { GuestFault, GuestMemory, Struct } from './guest-memory.ts';
export { DivergenceStop, HostCalls, RunEnd, WitnessLimit } from './witness/recorder.ts';
export type { Divergence, HostValue } from './witness/recorder.ts';
export { WASM_PAGE_BYTES } from './manifest/parse.ts';
export type { CageManifest, Grant } from './manifest/parse.ts';
export { kFuncType } from './instance.ts';
export type { Instance } from './instance.ts';
export type { FuncType } from './instrument/module.ts';
export { VALTYPE } from './instrument/opcodes.ts';
export { canonicalPackr } from './msgpack.ts';
export { GROW_REFUSED_LEVEL, failedOnMemoryLimit } from './memory-limit.ts';
export type { CompiledModule } from './compiled-module.ts';
export type { Engine } from './engine.ts';

/** One run's state. Made by the cage for each run; never shared between runs. */
export class Store {
  /** Compiles whatever the run loads while it runs (the `nested` group's submissions). */
  readonly engine: Engine;
  readonly manifest: CageManifest;
  /** The witness recorder every host function goes through. */
  readonly calls: HostCalls;
  /** The running instance, set before its start function runs; it meters the run's fuel. */
  instance: Instance | undefined;

  constructor(engine: Engine, manifest: CageManifest, calls: HostCalls) {
    this.engine = engine;
    this.manifest = manifest;
    this.calls = calls;
  }

  /** The guest's memory, attached when the instance exists. */
  get mem(): GuestMemory {
    return this.calls.mem;
  }

  get mode(): 'record' | 'replay' {
    return this.calls.mode;
  }
}
