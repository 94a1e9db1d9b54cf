/**
 * Pressure Stall Information parser. Format (kernel `Documentation/accounting/psi.rst`):
 *
 * ```
 * some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 * ```
 *
 * `avgN` are percentages of wall time stalled over the last N seconds; `total` is the cumulative
 * stall time in microseconds. `cpu.pressure` has no `full` line before Linux 5.13 (and a zero one
 * at the root after it).
 */

/** One PSI line. */
export interface PsiLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Cumulative stall time, microseconds. */
  total: number;
}

/** A parsed `*.pressure` file. */
export interface Psi {
  some: PsiLine;
  full: PsiLine | undefined;
}

const LINE = /^(some|full) avg10=([0-9.]+) avg60=([0-9.]+) avg300=([0-9.]+) total=([0-9]+)$/;

/**
 * Parses a PSI file's text.
 * @param text - contents of `cpu.pressure`, `memory.pressure` or `io.pressure`
 * @returns the parsed lines, or undefined when the text is not PSI (no `some` line)
 * @example
 * parsePsi('some avg10=1.50 avg60=0.20 avg300=0.05 total=12345\n')?.some.avg10 === 1.5
 */
export function parsePsi(text: string): Psi | undefined {
  let some: PsiLine | undefined;
  let full: PsiLine | undefined;
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw.trim());
    if (m === null) continue;
    const line: PsiLine = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), total: Number(m[5]) };
    if (m[1] === 'some') some = line;
    else full = line;
  }
  return some === undefined ? undefined : { some, full };
}
