/** Public entry `docklock/evaluate`: load a challenge folder and score submissions on the cage's pool. */
export { loadChallenge } from '../evaluate/challenge.ts';
export type { Challenge, LoadChallengeOptions } from '../evaluate/challenge.ts';
export { evaluateSubmissions } from '../evaluate/batch.ts';
export type { Evaluation } from '../evaluate/evaluation.ts';
export { DocklockError, InputError } from '../errors.ts';
