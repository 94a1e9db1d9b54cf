#!/usr/bin/env node
/**
 * The `docklock` command. This file only checks the Node version, before anything that needs a
 * newer one is loaded, then hands over to program.ts.
 */
const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(`docklock needs Node.js 22.12 or newer (Node 24 LTS recommended); this is ${process.version}.\nRun it through npm (npx docklock …), which uses the project's own Node 24, or install a newer Node.\n`);
  process.exit(2);
}
const { main } = await import('./program.ts');
await main(process.argv);
