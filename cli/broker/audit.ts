/** `docklock broker audit verify <file>`: exit 0 when the chain verifies, 1 with the first break. */
import { readFileSync } from 'node:fs';
import { Errors, verifyAuditText } from '../../broker/index.ts';

/**
 * Verifies an audit log and prints the result.
 * @param file - the JSONL audit log
 * @param expectHead - optional head hash recorded elsewhere (detects truncation)
 * @returns the process exit code
 * @throws {BrokerError} `DL_ERR_AUDIT_READ` when the file cannot be read, `DL_ERR_AUDIT_CHAIN_BROKEN` at the first break
 */
export function auditVerifyCommand(file: string, expectHead: string | undefined): number {
  if (expectHead !== undefined && !/^[0-9a-f]{64}$/.test(expectHead))
    throw Errors.usage(`--expect-head: expected 64 hex digits, received "${expectHead}"`, '--expect-head');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw Errors.auditRead(
      `cannot read audit log "${file}": ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`,
      'file',
      { cause },
    );
  }
  const r = verifyAuditText(text, expectHead);
  if (!r.ok)
    throw Errors.auditChainBroken(`${file} line ${r.line}: ${r.problem} (${r.entries} entries verified before it)`);
  process.stdout.write(`ok: ${r.entries} entries, head ${r.head}\n`);
  return 0;
}
