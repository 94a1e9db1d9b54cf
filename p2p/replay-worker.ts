/**
 * A replay thread of the node's pool (replay-pool.ts): judges several claims per job, each on its
 * own (a bundle that fails, whatever it holds, is that item's answer and never its neighbours').
 * The bundle is decoded and checked here, not on the node's event loop, and a replay runs only
 * when the pool allowed for its manifest's limits. Each step is written on the job's progress
 * board (item, decoding or replaying, since when), so the pool's watchdog bounds each replay by its
 * own limit, never by a sum over the job; each answer is posted as soon as it is made. A replay
 * slower than its own `limits.wallClockMs` is refused after the fact, as the watchdog would have.
 */
import { workerData } from 'node:worker_threads';
import {
  Engine,
  ValidationError,
  WatchdogError,
  compileOptionsFor,
  errorToWire,
  runGuest,
  serveJobs,
  workerStackMb,
} from '../index.ts';
import type { CompiledModule, JobContext, JobResult, decodeBundle } from '../index.ts';
import { checkClaimBundle, judgementOfReplay, replayInputOf } from './audit.ts';
import { setProgress } from './replay-jobs.ts';
import type { JudgeEvent, JudgeItem, JudgeJob, JudgeReply, ReplayWorkerBoot } from './replay-jobs.ts';
import { hex } from './wire.ts';

type Bundle = ReturnType<typeof decodeBundle>;

const boot = workerData as ReplayWorkerBoot;

/**
 * Compiled modules by the module and manifest hashes the bundle check has just verified, so a
 * replay does not hash its module again to find it in the engine's cache (a visible share of a
 * small replay in the bench:p2p profile). A module the engine refuses is not kept: the replay
 * compiles it again and reports the refusal as its result.
 */
const compiled = new Map<string, CompiledModule>();
const MAX_COMPILED = 32;

async function compiledFor(b: Bundle): Promise<CompiledModule | undefined> {
  const key = hex(b.result.moduleHash) + hex(b.result.manifestHash);
  const hit = compiled.get(key);
  if (hit !== undefined) return hit;
  let m: CompiledModule;
  try {
    m = await Engine.default.compile(b.module, compileOptionsFor(b.manifest));
  } catch (e) {
    if (e instanceof ValidationError) return undefined;
    throw e;
  }
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, m);
  return m;
}

async function judgeOne(item: JudgeItem, replaying: () => void): Promise<JudgeReply> {
  const c = checkClaimBundle(item.claim, item.bytes);
  if ('judgement' in c) return c;
  const l = c.bundle.manifest.limits;
  const want = item.limits;
  if (
    want === null ||
    want.wallClockMs !== l.wallClockMs ||
    want.stack !== l.stack ||
    workerStackMb(l.stack) > boot.stackMb
  )
    return { needs: { wallClockMs: l.wallClockMs, stack: l.stack }, bytes: item.bytes };
  replaying();
  const t0 = performance.now();
  const module = await compiledFor(c.bundle);
  const out = await runGuest({ ...replayInputOf(c.bundle), mode: 'replay', compiled: module });
  if (performance.now() - t0 > l.wallClockMs)
    return { error: errorToWire(new WatchdogError(['the replay', l.wallClockMs])) };
  return { judgement: judgementOfReplay(c.bundle, out) };
}

async function judgeAll(job: JudgeJob, ctx: JobContext<JudgeEvent>): Promise<JobResult<number>> {
  const { items, progress } = job;
  for (let i = 0; i < items.length; i++) {
    let r: JudgeReply;
    try {
      setProgress(progress, i, 'decoding');
      r = await judgeOne(items[i]!, () => setProgress(progress, i, 'replaying'));
    } catch (e) {
      r = { error: errorToWire(e) };
    }
    ctx.emit({ answered: i, reply: r }, 'needs' in r ? [r.bytes.buffer as ArrayBuffer] : undefined);
  }
  return { value: items.length };
}

serveJobs<JudgeJob, number, JudgeEvent>(judgeAll);
