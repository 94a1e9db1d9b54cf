/**
 * Tallies the verdict pairs of the spec-suite differential test and prints the summary table.
 *
 * | plain V8 | docklock | counted as                                                        |
 * |----------|----------|-------------------------------------------------------------------|
 * | passes   | passes   | passed                                                            |
 * | passes   | fails    | FAILED (the test fails)                                           |
 * | fails    | passes   | assert_invalid/malformed: "docklock stricter than V8"; else noted  |
 * | fails    | fails    | assert_invalid/malformed: FAILED (docklock must reject); else noted|
 */
import type { ValidationError } from '../../../index.ts';
import type { SpecCommand } from './script.ts';
import { DEVIATIONS } from './skips.ts';

export interface Finding {
  script: string;
  line: number;
  command: string;
  detail: string;
}

interface Row {
  run: number;
  passed: number;
  failed: number;
  stricter: number;
  v8Only: number;
}

export class Summary {
  scripts = 0;
  readonly rows = new Map<string, Row>();
  readonly skipped = new Map<string, number>();
  readonly failures: Finding[] = [];
  /** Plain V8 rejects nothing it should accept, but accepts modules Wasm 3.0 made valid; docklock rejects them. */
  readonly stricter: Finding[] = [];
  /** Assertions plain V8 itself fails (not the stricter validation cases). */
  readonly v8Failures: Finding[] = [];
  readonly trapCodes = { exact: 0, conflated: new Map<string, number>(), unmapped: new Map<string, number>() };
  readonly rejections = new Map<string, number>();
  readonly calls = { direct: 0, adapted: 0 };

  #row(type: string): Row {
    let r = this.rows.get(type);
    if (r === undefined) {
      r = { run: 0, passed: 0, failed: 0, stricter: 0, v8Only: 0 };
      this.rows.set(type, r);
    }
    return r;
  }

  record(
    script: string,
    cmd: SpecCommand,
    plain: string | undefined,
    docklock: string | undefined,
    kind?: 'validation',
  ): void {
    const where = {
      script,
      line: cmd.line,
      command:
        cmd.type + (cmd.action ? ` ${cmd.action.type} "${cmd.action.field}"` : cmd.filename ? ` ${cmd.filename}` : ''),
    };
    const deviation = DEVIATIONS[`${script}:${cmd.line}`];
    if (deviation !== undefined) {
      if (plain === undefined && docklock !== undefined) return this.skip(script, cmd, deviation);
      this.#row(cmd.type).failed++;
      this.failures.push({
        ...where,
        detail: `listed deviation in spec/skips.ts no longer applies (V8: ${plain ?? 'passes'}; docklock: ${docklock ?? 'passes'}): remove it`,
      });
      return;
    }
    const row = this.#row(cmd.type);
    row.run++;
    if (plain === undefined && docklock === undefined) {
      row.passed++;
    } else if (plain === undefined) {
      row.failed++;
      this.failures.push({ ...where, detail: `docklock: ${docklock}` });
    } else if (kind === 'validation') {
      if (docklock === undefined) {
        row.stricter++;
        this.stricter.push({ ...where, detail: plain });
      } else {
        row.failed++;
        this.failures.push({ ...where, detail: `docklock: ${docklock} (V8: ${plain})` });
      }
    } else {
      row.v8Only++;
      this.v8Failures.push({ ...where, detail: `V8: ${plain}; docklock: ${docklock ?? 'passes'}` });
    }
  }

  skip(_script: string, _cmd: SpecCommand, reason: string): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + 1);
  }

  trapCode(kind: 'exact' | 'conflated' | 'unmapped', what: string): void {
    if (kind === 'exact') this.trapCodes.exact++;
    else {
      const m = this.trapCodes[kind];
      m.set(what, (m.get(what) ?? 0) + 1);
    }
  }

  rejection(err: ValidationError): void {
    this.rejections.set(err.code, (this.rejections.get(err.code) ?? 0) + 1);
  }

  get totals(): Row & { skipped: number } {
    const t = { run: 0, passed: 0, failed: 0, stricter: 0, v8Only: 0, skipped: 0 };
    for (const r of this.rows.values()) {
      t.run += r.run;
      t.passed += r.passed;
      t.failed += r.failed;
      t.stricter += r.stricter;
      t.v8Only += r.v8Only;
    }
    for (const n of this.skipped.values()) t.skipped += n;
    return t;
  }

  /** The printed table. */
  format(seconds: number): string {
    const lines: string[] = [];
    const pad = (s: string | number, n: number): string => String(s).padStart(n);
    lines.push(`WebAssembly core spec suite, plain V8 vs docklock: ${this.scripts} scripts in ${seconds.toFixed(1)} s`);
    lines.push(
      `${'command'.padEnd(24)}${pad('run', 8)}${pad('passed', 8)}${pad('failed', 8)}${pad('stricter', 10)}${pad('V8 fails', 10)}`,
    );
    const order = [
      'module',
      'action',
      'assert_return',
      'assert_trap',
      'assert_exhaustion',
      'assert_invalid',
      'assert_malformed',
      'assert_unlinkable',
      'assert_uninstantiable',
    ];
    const types = [...this.rows.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
    for (const t of types) {
      const r = this.rows.get(t)!;
      lines.push(
        `${t.padEnd(24)}${pad(r.run, 8)}${pad(r.passed, 8)}${pad(r.failed, 8)}${pad(r.stricter, 10)}${pad(r.v8Only, 10)}`,
      );
    }
    const tot = this.totals;
    lines.push(
      `${'total'.padEnd(24)}${pad(tot.run, 8)}${pad(tot.passed, 8)}${pad(tot.failed, 8)}${pad(tot.stricter, 10)}${pad(tot.v8Only, 10)}`,
    );
    lines.push(`skipped: ${tot.skipped}`);
    for (const [reason, n] of this.skipped) lines.push(`  ${pad(n, 6)}  ${reason}`);
    lines.push(
      `docklock stricter than V8 (modules Wasm 3.0 made valid, rejected by docklock's validator): ${this.stricter.length}`,
    );
    for (const f of this.stricter) lines.push(`  ${f.script}:${f.line} ${f.command}: ${f.detail}`);
    if (this.v8Failures.length > 0) {
      lines.push(`assertions plain V8 itself fails: ${this.v8Failures.length}`);
      for (const f of this.v8Failures.slice(0, 20)) lines.push(`  ${f.script}:${f.line} ${f.command}: ${f.detail}`);
    }
    lines.push(
      `calls: ${this.calls.direct} through Instance.exports, ${this.calls.adapted} through the f32/f64/v128 bit adapter`,
    );
    lines.push(
      `trap codes: ${this.trapCodes.exact} exact` +
        (this.trapCodes.conflated.size
          ? `, conflated by V8's message (accepted): ${[...this.trapCodes.conflated].map(([k, n]) => `${k} ×${n}`).join(', ')}`
          : ''),
    );
    if (this.trapCodes.unmapped.size)
      lines.push(`  unmapped trap texts: ${[...this.trapCodes.unmapped].map(([k, n]) => `${k} ×${n}`).join(', ')}`);
    lines.push(
      `docklock rejection codes: ${[...this.rejections]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
    );
    if (this.failures.length > 0) {
      lines.push(`FAILURES (plain V8 passes, docklock does not): ${this.failures.length}`);
      for (const f of this.failures.slice(0, 20)) lines.push(`  ${formatFinding(f)}`);
    }
    return lines.join('\n');
  }
}

export function formatFinding(f: Finding): string {
  return `${f.script}:${f.line} ${f.command}: ${f.detail}`;
}
