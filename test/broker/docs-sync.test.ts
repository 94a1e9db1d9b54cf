/** docs/broker.md must name every error code the broker can answer with. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Errors } from '../../broker/errors.ts';

const doc = readFileSync(new URL('../../docs/broker.md', import.meta.url), 'utf8');

describe('docs/broker.md', () => {
  it.each(Object.values(Errors).map((make) => [make('x').code, make('x').statusCode] as const))(
    'documents %s (%d)',
    (code, status) => {
      // The status table abbreviates shared prefixes: DL_ERR_BROKER_UNKNOWN_FIELD, `_INVALID_FIELD`, ...
      const suffix = code.replace(/^DL_ERR_(BROKER|POLICY|AUTH|AUDIT)/, '');
      const rows = doc
        .split('\n')
        .filter((l) => l.startsWith(`| ${status} `) || l.startsWith(`| ${status}/`) || l.includes(`/${status} `));
      expect(rows.length, `status row ${status}`).toBeGreaterThan(0);
      expect(
        rows.some((row) => row.includes(code) || row.includes(`\`${suffix}\``)),
        `${code} in a ${status} row`,
      ).toBe(true);
    },
  );
});
