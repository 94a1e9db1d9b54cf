/**
 * Rust's v0 symbol mangling (RFC 2603, `-C symbol-mangling-version=v0`; the WASI preview1 adapter
 * inside every wrapped component is built with it), demangled for display the way
 * `rustc-demangle` prints with `{:#}`: no crate hashes, `<Type>::method`, `<Type as Trait>::method`,
 * generic arguments in `<…>`, closures as `{closure#N}`.
 *
 * `_RNvMs8_Cs1wwIxjb0Jwr_22wasi_snapshot_preview1NtB5_5State3new` → `<wasi_snapshot_preview1::State>::new`
 *
 * Anything this printer does not follow (punycode identifiers, a malformed name, too deep a nesting)
 * returns undefined: the caller keeps the mangled name. Names are for people; nothing depends on them.
 */

const BASIC: Record<string, string> = {
  a: 'i8',
  b: 'bool',
  c: 'char',
  d: 'f64',
  e: 'str',
  f: 'f32',
  h: 'u8',
  i: 'isize',
  j: 'usize',
  l: 'i32',
  m: 'u32',
  n: 'i128',
  o: 'u128',
  s: 'i16',
  t: 'u16',
  u: '()',
  v: '...',
  x: 'i64',
  y: 'u64',
  z: '!',
  p: '_',
};

/** Nesting bound: a backreference loop or a hostile name ends here instead of overflowing. */
const MAX_DEPTH = 64;

class Fail extends Error {}

class Printer {
  readonly #s: string;
  #p: number;
  #depth = 0;

  constructor(s: string, start: number) {
    this.#s = s;
    this.#p = start;
  }

  get done(): boolean {
    return this.#p >= this.#s.length;
  }

  #peek(): string {
    return this.#s[this.#p] ?? '';
  }

  #next(): string {
    if (this.#p >= this.#s.length) throw new Fail();
    return this.#s[this.#p++]!;
  }

  #eat(c: string): boolean {
    if (this.#s[this.#p] !== c) return false;
    this.#p++;
    return true;
  }

  #base62(): number {
    if (this.#eat('_')) return 0;
    let v = 0;
    for (;;) {
      const c = this.#next();
      if (c === '_') return v + 1;
      const d =
        c >= '0' && c <= '9'
          ? c.charCodeAt(0) - 48
          : c >= 'a' && c <= 'z'
            ? c.charCodeAt(0) - 87
            : c >= 'A' && c <= 'Z'
              ? c.charCodeAt(0) - 29
              : -1;
      if (d < 0) throw new Fail();
      // Crate disambiguators are 64-bit hashes: past 2^53 the value is only ever skipped.
      v = Math.min(v * 62 + d, Number.MAX_SAFE_INTEGER);
    }
  }

  #disambiguator(): number {
    return this.#eat('s') ? this.#base62() + 1 : 0;
  }

  #decimal(): number {
    const start = this.#p;
    while (this.#peek() >= '0' && this.#peek() <= '9') this.#p++;
    if (this.#p === start) throw new Fail();
    return Number(this.#s.slice(start, this.#p));
  }

  #ident(): string {
    if (this.#eat('u')) throw new Fail(); // punycode
    const len = this.#decimal();
    this.#eat('_');
    if (this.#p + len > this.#s.length) throw new Fail();
    const id = this.#s.slice(this.#p, this.#p + len);
    this.#p += len;
    return id;
  }

  /** Runs `f` at the backreference's target, then comes back. */
  #backref<T>(f: () => T): T {
    const at = this.#base62();
    // Offsets count from the character after `_R`.
    const target = 2 + at;
    if (target >= this.#p) throw new Fail();
    const saved = this.#p;
    this.#p = target;
    try {
      return this.#nested(f);
    } finally {
      this.#p = saved;
    }
  }

  #nested<T>(f: () => T): T {
    if (++this.#depth > MAX_DEPTH) throw new Fail();
    try {
      return f();
    } finally {
      this.#depth--;
    }
  }

  /** A path; `value`: in an expression (generic arguments as `::<…>`), else in a type (`<…>`). */
  path(value: boolean): string {
    return this.#nested(() => this.#path(value));
  }

  #path(value: boolean): string {
    const c = this.#next();
    switch (c) {
      case 'C': {
        this.#disambiguator();
        return this.#ident();
      }
      case 'N': {
        const ns = this.#next();
        const parent = this.path(value);
        const dis = this.#disambiguator();
        const id = this.#ident();
        if (ns === 'C') return `${parent}::{closure${id === '' ? '' : `:${id}`}#${dis}}`;
        if (ns === 'S') return `${parent}::{shim${id === '' ? '' : `:${id}`}#${dis}}`;
        if (ns >= 'A' && ns <= 'Z') return `${parent}::{${ns}${id === '' ? '' : `:${id}`}#${dis}}`;
        return id === '' ? parent : `${parent}::${id}`;
      }
      case 'M': {
        this.#disambiguator();
        this.path(false); // the impl's own path (its module): not printed
        return `<${this.type()}>`;
      }
      case 'X': {
        this.#disambiguator();
        this.path(false);
        const self = this.type();
        return `<${self} as ${this.path(false)}>`;
      }
      case 'Y': {
        const self = this.type();
        return `<${self} as ${this.path(false)}>`;
      }
      case 'I': {
        const base = this.path(value);
        const args: string[] = [];
        while (!this.#eat('E')) args.push(this.#genericArg());
        return `${base}${value ? '::' : ''}<${args.join(', ')}>`;
      }
      case 'B':
        return this.#backref(() => this.#path(value));
      default:
        throw new Fail();
    }
  }

  #genericArg(): string {
    if (this.#eat('L')) {
      this.#base62();
      return "'_";
    }
    if (this.#eat('K')) return this.#const();
    return this.type();
  }

  #const(): string {
    if (this.#eat('p')) return '_';
    if (this.#eat('B')) return this.#backref(() => this.#const());
    const ty = this.#next();
    if (BASIC[ty] === undefined) throw new Fail();
    const neg = this.#eat('n');
    const start = this.#p;
    while (/[0-9a-f]/.test(this.#peek())) this.#p++;
    const hex = this.#s.slice(start, this.#p);
    if (!this.#eat('_')) throw new Fail();
    if (ty === 'b') return hex === '1' ? 'true' : 'false';
    const v = hex === '' ? 0n : BigInt(`0x${hex}`);
    return `${neg ? '-' : ''}${v}`;
  }

  type(): string {
    return this.#nested(() => this.#type());
  }

  #type(): string {
    const c = this.#peek();
    const basic = BASIC[c];
    if (basic !== undefined) {
      this.#p++;
      return basic;
    }
    switch (c) {
      case 'C':
      case 'M':
      case 'X':
      case 'Y':
      case 'N':
      case 'I':
        return this.path(false);
      case 'B':
        this.#p++;
        return this.#backref(() => this.#type());
    }
    this.#p++;
    switch (c) {
      case 'A': {
        const t = this.type();
        return `[${t}; ${this.#const()}]`;
      }
      case 'S':
        return `[${this.type()}]`;
      case 'T': {
        const ts: string[] = [];
        while (!this.#eat('E')) ts.push(this.type());
        return ts.length === 1 ? `(${ts[0]},)` : `(${ts.join(', ')})`;
      }
      case 'R':
      case 'Q': {
        if (this.#eat('L')) this.#base62();
        return `&${c === 'Q' ? 'mut ' : ''}${this.type()}`;
      }
      case 'P':
        return `*const ${this.type()}`;
      case 'O':
        return `*mut ${this.type()}`;
      case 'F': {
        if (this.#eat('G')) this.#base62();
        const unsafe = this.#eat('U');
        let abi = '';
        if (this.#eat('K')) abi = this.#eat('C') ? 'C' : this.#ident().replace(/_/g, '-');
        const params: string[] = [];
        while (!this.#eat('E')) params.push(this.type());
        const ret = this.type();
        return `${unsafe ? 'unsafe ' : ''}${abi === '' ? '' : `extern "${abi}" `}fn(${params.join(', ')})${ret === '()' ? '' : ` -> ${ret}`}`;
      }
      case 'D': {
        if (this.#eat('G')) this.#base62();
        const bounds: string[] = [];
        while (!this.#eat('E')) {
          let b = this.path(false);
          const assoc: string[] = [];
          while (this.#eat('p')) {
            const name = this.#ident();
            assoc.push(`${name} = ${this.type()}`);
          }
          if (assoc.length > 0) b += `<${assoc.join(', ')}>`;
          bounds.push(b);
        }
        if (this.#eat('L')) this.#base62();
        return `dyn ${bounds.join(' + ')}`;
      }
      default:
        throw new Fail();
    }
  }
}

/** The demangled name, or undefined when `name` is not a v0 symbol this printer follows. */
export function demangleRustV0(name: string): string | undefined {
  if (!name.startsWith('_R')) return undefined;
  let start = 2;
  // An optional encoding version (decimal) precedes the path.
  while (name[start] !== undefined && name[start]! >= '0' && name[start]! <= '9') start++;
  if (start !== 2) return undefined;
  try {
    const p = new Printer(name, start);
    return p.path(true);
  } catch (e) {
    if (e instanceof Fail) return undefined;
    throw e;
  }
}
