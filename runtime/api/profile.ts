/**
 * Public entry `docklock/profile`: deterministic fuel profiles (flame graphs, speedscope, pprof)
 * of bundles and runs, and the evaluation report (docs/profile.md).
 */
export { profileBundle, profileModule, profileFormatOf, renderProfile } from '../profile/api.ts';
export type { ProfileFormat, ProfileReport } from '../profile/api.ts';
export { toFlameGraphHtml, toFlameGraphSvg } from '../profile/flamegraph.ts';
export { toPprof } from '../profile/pprof.ts';
export { toSpeedscope } from '../profile/speedscope.ts';
export type { Profile, ProfileNode } from '../profile/model.ts';
export { renderReport } from '../profile/report.ts';
export type { ReportOptions } from '../profile/report.ts';
