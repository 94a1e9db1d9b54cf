// docklock challenge SDK for AssemblyScript. Import from here:
//   import { readSubmission, writeScore, Details, Rng, Submission, httpGet, log } from "<path>/sdk/assemblyscript/index";
// Build with scripts/build-challenges.ts (asc --runtime stub --use abort=…/io/dlAbort); the
// challenge exports `_start` (a WASI command). See challenges/README.md.
export * from "./io";
export * from "./random";
export * from "./time";
export * from "./log";
export * from "./http";
export * from "./nested";
export * from "./score";
export * from "./state";
