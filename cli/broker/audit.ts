/** `docklock broker audit verify <file>`: exit 0 when the chain verifies, 1 with the first break. */
import { verifyAuditFile } from '../../broker/audit.ts';

/**
 * Verifies an audit log and prints the result.
 * @param file - the JSONL audit log
 * @param expectHead - optional head hash recorded elsewhere (detects truncation)
 * @returns the process exit code
 */
export function auditVerifyCommand(file: string, expectHead: string | undefined): number {
  const r = verifyAuditFile(file, expectHead);
  if (r.ok) {
    process.stdout.write(`ok: ${r.entries} entries, head ${r.head}\n`);
    return 0;
  }
  process.stderr.write(`DL_ERR_AUDIT_CHAIN_BROKEN: ${file} line ${r.line}: ${r.problem} (${r.entries} entries verified before it)\n`);
  return 1;
}
