/**
 * The evaluation report (`docklock evaluate --report`): one self-contained HTML page, no script,
 * no network, the charts drawn here as inline SVG: the score distribution, fuel per submission,
 * the statuses, the slowest submissions and the failed ones with their reasons, and links to the
 * fuel profiles of their bundles. Every label comes from a submission or a challenge, so all of it
 * is escaped.
 */
import type { Evaluation } from '../evaluate/evaluation.ts';
import { escapeXml } from './flamegraph.ts';

export interface ReportOptions {
  /** The page's title (default "Evaluation report"). */
  title?: string;
  /** Short display names, one per evaluation (default: the submission labels). */
  names?: readonly string[];
  /** Submission label → link to its bundle's profile (relative to the report). */
  profiles?: ReadonlyMap<string, string>;
  /** How many of the slowest submissions to list (default 10). */
  slowest?: number;
}

const esc = escapeXml;
const thousands = new Intl.NumberFormat('en-US');
const STATUS_COLOUR: Record<Evaluation['status'], string> = {
  ok: '#3b9a57',
  submission_failed: '#d9822b',
  evaluation_failed: '#c23b3b',
};

function fuelOf(e: Evaluation): bigint {
  return e.run?.fuelUsed ?? 0n;
}

function statusText(e: Evaluation): string {
  return e.status === 'ok' ? 'ok' : e.status === 'submission_failed' ? 'failed' : 'not evaluated';
}

/** Scores in ten bins over [0, 1] (widened to the scores' range when one falls outside). */
function histogram(evals: readonly Evaluation[]): string {
  const scores = evals.map((e) => e.score).filter((s) => Number.isFinite(s));
  const lo = Math.min(0, ...scores);
  const hi = Math.max(1, ...scores);
  const bins = 10;
  const counts = new Array<number>(bins).fill(0);
  for (const s of scores) counts[Math.min(bins - 1, Math.floor(((s - lo) / (hi - lo)) * bins))]!++;
  const max = Math.max(1, ...counts);
  const W = 560;
  const H = 200;
  const pad = 30;
  const bw = (W - pad * 2) / bins;
  const bars = counts
    .map((c, i) => {
      const h = ((H - pad * 2) * c) / max;
      const from = lo + ((hi - lo) * i) / bins;
      const to = lo + ((hi - lo) * (i + 1)) / bins;
      const x = pad + i * bw;
      return (
        `<g><title>${esc(`${from.toFixed(2)}–${to.toFixed(2)}: ${c} submission${c === 1 ? '' : 's'}`)}</title>` +
        `<rect x="${(x + 1).toFixed(1)}" y="${(H - pad - h).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${h.toFixed(1)}" fill="#4a7fc1"/>` +
        (c > 0
          ? `<text x="${(x + bw / 2).toFixed(1)}" y="${(H - pad - h - 4).toFixed(1)}" text-anchor="middle">${c}</text>`
          : '') +
        `<text x="${x.toFixed(1)}" y="${H - pad + 14}" text-anchor="middle" class="axis">${from.toFixed(1)}</text></g>`
      );
    })
    .join('');
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="score distribution">
<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#555"/>${bars}
<text x="${W - pad}" y="${H - pad + 14}" text-anchor="middle" class="axis">${hi.toFixed(1)}</text>
<text x="${W / 2}" y="${H - 2}" text-anchor="middle" class="axis">score</text></svg>`;
}

/** One horizontal bar per submission, longest first, coloured by status. */
function fuelBars(evals: readonly Evaluation[], names: readonly string[]): string {
  const rows = evals.map((e, i) => ({ e, name: names[i]! })).sort((a, b) => compareFuel(b.e, a.e));
  const max = rows.reduce((m, r) => (fuelOf(r.e) > m ? fuelOf(r.e) : m), 1n);
  const W = 900;
  const label = 220;
  const row = 20;
  const H = rows.length * row + 10;
  const bars = rows
    .map(({ e, name }, i) => {
      const w = Math.max(1, ((W - label - 140) * Number(fuelOf(e))) / Number(max));
      const y = 5 + i * row;
      return (
        `<g><title>${esc(`${name}: ${thousands.format(fuelOf(e))} fuel, ${statusText(e)}${e.reason ? ` (${e.reason})` : ''}`)}</title>` +
        `<text x="${label - 6}" y="${y + 14}" text-anchor="end">${esc(clip(name, 30))}</text>` +
        `<rect x="${label}" y="${y + 2}" width="${w.toFixed(1)}" height="${row - 4}" fill="${STATUS_COLOUR[e.status]}"/>` +
        `<text x="${(label + w + 6).toFixed(1)}" y="${y + 14}" class="axis">${thousands.format(fuelOf(e))}</text></g>`
      );
    })
    .join('');
  return `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="fuel per submission">${bars}</svg>`;
}

function compareFuel(a: Evaluation, b: Evaluation): number {
  const d = fuelOf(a) - fuelOf(b);
  return d < 0n ? -1 : d > 0n ? 1 : a.submission < b.submission ? 1 : a.submission > b.submission ? -1 : 0;
}

function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

function profileCell(e: Evaluation, profiles: ReadonlyMap<string, string> | undefined): string {
  const href = profiles?.get(e.submission);
  return href === undefined ? '—' : `<a href="${esc(encodeURI(href))}">profile</a>`;
}

function row(cells: string[]): string {
  return `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

/** Renders the report page for a batch of evaluations. */
export function renderReport(evals: readonly Evaluation[], options: ReportOptions = {}): string {
  const title = options.title ?? 'Evaluation report';
  const names = options.names ?? evals.map((e) => e.submission);
  const nameOf = new Map(evals.map((e, i) => [e, names[i]!]));
  const count = (s: Evaluation['status']): number => evals.filter((e) => e.status === s).length;
  const mean = evals.length === 0 ? 0 : evals.reduce((a, e) => a + e.score, 0) / evals.length;
  const byRunStatus = new Map<string, number>();
  for (const e of evals) {
    const k = e.run === null ? 'no run' : e.run.status;
    byRunStatus.set(k, (byRunStatus.get(k) ?? 0) + 1);
  }
  const slowest = [...evals].sort((a, b) => compareFuel(b, a)).slice(0, options.slowest ?? 10);
  const failed = evals.filter((e) => e.status !== 'ok');
  const profiles = options.profiles;
  const statusRows = [
    ['ok', count('ok')],
    ['failed by the challenge', count('submission_failed')],
    ['not evaluated', count('evaluation_failed')],
  ]
    .map(([k, v]) => row([esc(String(k)), String(v)]))
    .join('');
  const runRows = [...byRunStatus.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => row([esc(k), String(v)]))
    .join('');
  const slowRows = slowest
    .map((e) =>
      row([
        esc(nameOf.get(e)!),
        thousands.format(fuelOf(e)),
        e.score.toFixed(4),
        `<span class="s-${e.status}">${esc(statusText(e))}</span>`,
        profileCell(e, profiles),
      ]),
    )
    .join('');
  const failRows = failed
    .map((e) =>
      row([
        esc(nameOf.get(e)!),
        `<span class="s-${e.status}">${esc(statusText(e))}</span>`,
        esc(e.reason ?? '—'),
        esc(e.run === null ? 'no run' : `${e.run.status}${e.run.trap ? ` (${e.run.trap})` : ''}`),
        e.run === null ? '—' : thousands.format(fuelOf(e)),
        profileCell(e, profiles),
      ]),
    )
    .join('');
  const allRows = evals
    .map((e) =>
      row([
        esc(nameOf.get(e)!),
        e.score.toFixed(4),
        `<span class="s-${e.status}">${esc(statusText(e))}</span>`,
        e.run === null ? '—' : thousands.format(fuelOf(e)),
        `<code>${esc(e.resultHash?.slice(0, 16) ?? '—')}</code>`,
        profileCell(e, profiles),
      ]),
    )
    .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
th { background: #f2f2f2; } .chart { display: block; font: 12px monospace; } .axis { fill: #555; font-size: 11px; }
.s-ok { color: #2d7a44; } .s-submission_failed { color: #b5651d; } .s-evaluation_failed { color: #b02a2a; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
</style></head>
<body>
<h1>${esc(title)}</h1>
<p id="summary">${evals.length} submission${evals.length === 1 ? '' : 's'}: ${count('ok')} ok, ${count('submission_failed')} failed by the challenge, ${count('evaluation_failed')} not evaluated; mean score ${mean.toFixed(4)}</p>
<h2>Score distribution</h2>
${histogram(evals)}
<h2>Fuel per submission</h2>
<p class="legend"><span style="background:${STATUS_COLOUR.ok}"></span>ok<span style="background:${STATUS_COLOUR.submission_failed}"></span>failed<span style="background:${STATUS_COLOUR.evaluation_failed}"></span>not evaluated</p>
${fuelBars(evals, names)}
<h2>Statuses</h2>
<table><tr><th>evaluation</th><th>submissions</th></tr>${statusRows}</table>
<table><tr><th>challenge run</th><th>submissions</th></tr>${runRows}</table>
<h2>Slowest submissions</h2>
<table id="slowest"><tr><th>submission</th><th>fuel</th><th>score</th><th>status</th><th>profile</th></tr>${slowRows}</table>
<h2>Failed submissions</h2>
${failed.length === 0 ? '<p>None.</p>' : `<table id="failed"><tr><th>submission</th><th>status</th><th>reason</th><th>challenge run</th><th>fuel</th><th>profile</th></tr>${failRows}</table>`}
<h2>All submissions</h2>
<table id="all"><tr><th>submission</th><th>score</th><th>status</th><th>fuel</th><th>result hash</th><th>profile</th></tr>${allRows}</table>
</body></html>
`;
}
