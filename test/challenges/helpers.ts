/** Shared helpers for the challenge tests: example folders, submissions, a local ground-truth server. */
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SubmissionSource } from '../../runtime/evaluate/batch.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const EXAMPLES = join(ROOT, 'challenges', 'examples');

export function exampleDir(name: string): string {
  return join(EXAMPLES, name);
}

/** Every checked-in submission of an example (built .wasm and data files, not sources). */
export function submissionsOf(name: string): SubmissionSource[] {
  const dir = join(EXAMPLES, name, 'submissions');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => d.name)
    .sort()
    .map((f) => ({ label: f, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}

/** Serves `body` at any path on 127.0.0.1, with `headers(request)`; returns the server and its `host:port`. */
export async function serve(
  body: Uint8Array | string,
  headers: (req: IncomingMessage) => Record<string, string> = () => ({}),
): Promise<{ server: Server; host: string; requests: () => number }> {
  let count = 0;
  const server = createServer((req, res) => {
    count++;
    // No Date header: the recorded response must not change with the second a run starts in
    // (two runs a second apart would differ, and "the same run twice" tests would flake).
    res.sendDate = false;
    for (const [k, v] of Object.entries(headers(req))) res.setHeader(k, v);
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return { server, host: `127.0.0.1:${port}`, requests: () => count };
}

export function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}
