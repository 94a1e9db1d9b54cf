/**
 * Tells a WebAssembly component from a core module by its preamble: both start with `\0asm`; a
 * core module then has version 1 and layer 0, a component (component-model binary format,
 * `Binary.md`, "Component Definitions") a version of its own (0x0d today) and layer 1.
 */

/** Whether `bytes` is a component binary (the preamble's layer field is 1). */
export function isComponent(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 8 &&
    bytes[0] === 0x00 &&
    bytes[1] === 0x61 &&
    bytes[2] === 0x73 &&
    bytes[3] === 0x6d &&
    bytes[6] === 0x01 &&
    bytes[7] === 0x00
  );
}
