/**
 * Preloaded (`node --import`) into a `docklock` process by test/run/fs-metadata.test.ts: writes
 * the process's peak resident memory to stderr as it exits, whatever way it exits.
 */
process.on('exit', () => {
  process.stderr.write(`max-rss-kb ${process.resourceUsage().maxRSS}\n`);
});
