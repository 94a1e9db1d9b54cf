/**
 * Function names for a profile: the module's `name` section (function-names subsection, id 1),
 * demangled where a toolchain mangles (C++, Rust legacy `_ZN…E` and Rust v0 `_R…`); else the function's
 * first export name, else `func[N]`. A malformed name section is ignored, never an error:
 * names are for people, and the run must not depend on them.
 */
import { Reader } from '../instrument/bytes.ts';
import { decodeModule } from '../instrument/module.ts';
import { demangleRustV0 } from './rust-v0.ts';

/** Function index → display name, for every function of `wasm` (imported ones included). */
export function functionNames(wasm: Uint8Array): string[] {
  const m = decodeModule(wasm);
  const names: string[] = [];
  for (let i = 0; i < m.funcTypes.length; i++) names.push(`func[${i}]`);
  let f = 0;
  for (const imp of m.imports) if (imp.kind === 'func') names[f++] = `${imp.module}.${imp.name}`;
  // A stripped module still names its exports: better than an index where the name section is missing.
  const named = new Set<number>();
  for (const e of m.exports)
    if (e.kind === 'func' && !named.has(e.index) && e.index < names.length) {
      names[e.index] = e.name;
      named.add(e.index);
    }
  const section = m.sections.find((s) => s.id === 0 && s.name === 'name');
  if (section === undefined) return names;
  try {
    const r = new Reader(m.bytes, section.contentStart, section.contentEnd);
    r.name();
    while (!r.eof) {
      const id = r.u8();
      const size = r.u32();
      const end = r.pos + size;
      if (id === 1) {
        const n = r.u32();
        for (let k = 0; k < n; k++) {
          const index = r.u32();
          const name = r.name();
          if (index < names.length) names[index] = demangle(name);
        }
      }
      r.pos = end;
    }
  } catch {
    // A truncated or malformed subsection: keep the names read so far.
  }
  return names;
}

/**
 * Demangles the nested-name part of an Itanium (C++) or legacy Rust symbol: `_ZN3foo3barE` →
 * `foo::bar`, `_ZN4core3fmt5write17h0123456789abcdefE` → `core::fmt::write` (Rust's hash
 * dropped), `_Z3fooi` → `foo`, and Rust v0 symbols (`_R…`, ./rust-v0.ts). Parameter types are
 * dropped; anything else is returned unchanged.
 */
export function demangle(name: string): string {
  if (name.startsWith('_R')) return demangleRustV0(name) ?? name;
  if (!name.startsWith('_Z')) return name;
  let p = name.startsWith('_ZN') ? 3 : 2;
  const parts: string[] = [];
  while (p < name.length) {
    const m = /^(\d+)/.exec(name.slice(p));
    if (m === null) break;
    const len = Number(m[1]);
    p += m[1]!.length;
    if (len === 0 || p + len > name.length) return name;
    parts.push(name.slice(p, p + len));
    p += len;
  }
  if (parts.length === 0) return name;
  const last = parts[parts.length - 1]!;
  if (parts.length > 1 && /^h[0-9a-f]{16}$/.test(last)) parts.pop();
  // Rust escapes: `$LT$` for `<`, `..` for `::` and so on.
  return parts
    .join('::')
    .replace(/\$LT\$/g, '<')
    .replace(/\$GT\$/g, '>')
    .replace(/\$RF\$/g, '&')
    .replace(/\$C\$/g, ',')
    .replace(/\$SP\$/g, '@')
    .replace(/\$BP\$/g, '*')
    .replace(/\$u20\$/g, ' ')
    .replace(/\.\./g, '::');
}
