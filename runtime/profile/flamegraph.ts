/**
 * A self-contained, interactive flame graph (root on top, callees below, width ∝ fuel) as one SVG
 * file, or that SVG in an HTML page. No network, no fonts, no library: the script is inline.
 * Click a frame to zoom into it, click the top bar (or press Escape) to zoom out; hovering shows
 * the frame's fuel in the status line. Every name comes from the guest, so it is escaped and the
 * script only ever sets `textContent`.
 */
import type { Profile, ProfileNode } from './model.ts';

const WIDTH = 1200;
const ROW = 18;
const TOP = 44;
/** Frames narrower than this (px, at full zoom-out) are left out: invisible, and they bloat the file. */
const MIN_PX = 0.5;
const CHAR_PX = 7;

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Deterministic warm colour per name (nested submissions in blues), as flame graphs use. */
function colour(name: string, nested: boolean): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
  const v = (h % 1000) / 1000;
  if (nested) return `rgb(${80 + Math.round(v * 60)},${140 + Math.round(v * 60)},${220 + Math.round(v * 35)})`;
  return `rgb(${205 + Math.round(v * 50)},${Math.round(v * 190)},${Math.round(v * 55)})`;
}

function fit(name: string, px: number): string {
  const n = Math.floor((px - 6) / CHAR_PX);
  if (n < 3) return '';
  return name.length <= n ? name : `${name.slice(0, n - 2)}..`;
}

function fmt(n: bigint): string {
  return n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Renders the profile as a standalone SVG document. */
export function toFlameGraphSvg(p: Profile, title = `Fuel profile: ${p.root.name}`): string {
  const total = p.root.total > 0n ? Number(p.root.total) : 1;
  const rects: string[] = [];
  let maxDepth = 0;
  const walk = (n: ProfileNode, x: number, depth: number, nested: boolean): void => {
    const w = (Number(n.total) / total) * WIDTH;
    if (w < MIN_PX && depth > 0) return;
    if (depth > maxDepth) maxDepth = depth;
    const inNested = nested || n.nested === true;
    const pct = ((Number(n.total) / total) * 100).toFixed(2);
    const info = `${n.name} — ${fmt(n.total)} fuel (${pct}%), self ${fmt(n.self)}, calls ${fmt(n.calls)}`;
    const y = TOP + depth * ROW;
    rects.push(
      `<g class="f" data-x="${(x / WIDTH).toFixed(9)}" data-w="${(w / WIDTH).toFixed(9)}" data-d="${depth}" data-n="${escapeXml(n.name)}">` +
        `<title>${escapeXml(info)}</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${Math.max(w - 0.5, 0.1).toFixed(2)}" height="${ROW - 1}" rx="2" fill="${colour(n.name, inNested)}"/>` +
        `<text x="${(x + 3).toFixed(2)}" y="${y + ROW - 5}">${escapeXml(fit(n.name, w))}</text></g>`,
    );
    let cx = x;
    for (const c of n.children) {
      walk(c, cx, depth + 1, inNested);
      cx += (Number(c.total) / total) * WIDTH;
    }
  };
  walk(p.root, 0, 0, false);
  const height = TOP + (maxDepth + 1) * ROW + 24;
  const note = p.truncated ? ' (truncated: the call tree outgrew its memory)' : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="monospace" font-size="12">
<style>
.f text { fill: #000; pointer-events: none; }
.f:hover rect { stroke: #000; stroke-width: 0.8; }
.f { cursor: pointer; }
#title { font-size: 16px; font-weight: bold; }
</style>
<rect width="100%" height="100%" fill="#fdfdf6"/>
<text id="title" x="${WIDTH / 2}" y="20" text-anchor="middle">${escapeXml(title)}</text>
<text id="subtitle" x="${WIDTH / 2}" y="36" text-anchor="middle">${escapeXml(`total ${fmt(p.root.total)} fuel${note} · click a frame to zoom, Escape to reset`)}</text>
<g id="frames">
${rects.join('\n')}
</g>
<text id="status" x="4" y="${height - 8}"> </text>
<script><![CDATA[
(function () {
  var W = ${WIDTH}, ROW = ${ROW}, TOP = ${TOP}, CH = ${CHAR_PX};
  var frames = Array.prototype.slice.call(document.querySelectorAll('g.f'));
  var status = document.getElementById('status');
  function fit(name, px) {
    var n = Math.floor((px - 6) / CH);
    if (n < 3) return '';
    return name.length <= n ? name : name.slice(0, n - 2) + '..';
  }
  function zoom(g) {
    var zx = g ? +g.getAttribute('data-x') : 0, zw = g ? +g.getAttribute('data-w') : 1;
    var zd = g ? +g.getAttribute('data-d') : 0;
    frames.forEach(function (f) {
      var x = +f.getAttribute('data-x'), w = +f.getAttribute('data-w'), d = +f.getAttribute('data-d');
      var inside = x >= zx - 1e-9 && x + w <= zx + zw + 1e-9;
      var above = d < zd && x <= zx + 1e-9 && x + w >= zx + zw - 1e-9;
      var r = f.querySelector('rect'), t = f.querySelector('text');
      if (!inside && !above) { f.style.display = 'none'; return; }
      f.style.display = '';
      var nx = inside ? (x - zx) / zw * W : 0, nw = inside ? w / zw * W : W;
      r.setAttribute('x', nx.toFixed(2));
      r.setAttribute('width', Math.max(nw - 0.5, 0.1).toFixed(2));
      r.style.opacity = above ? '0.6' : '';
      t.setAttribute('x', (nx + 3).toFixed(2));
      t.textContent = fit(f.getAttribute('data-n'), nw);
    });
  }
  frames.forEach(function (f) {
    f.addEventListener('click', function () { zoom(+f.getAttribute('data-d') === 0 ? null : f); });
    f.addEventListener('mouseover', function () { status.textContent = f.querySelector('title').textContent; });
    f.addEventListener('mouseout', function () { status.textContent = ' '; });
  });
  document.addEventListener('keydown', function (e) { if (e.key === 'Escape') zoom(null); });
})();
]]></script>
</svg>
`;
}

/** The flame graph inside a minimal HTML page (same script; the SVG is inline). */
export function toFlameGraphHtml(p: Profile): string {
  const svg = toFlameGraphSvg(p).replace(/^<\?xml[^>]*>\n/, '');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(`Fuel profile: ${p.root.name}`)}</title>
<style>body{margin:8px;background:#fdfdf6}</style></head>
<body>
${svg}</body></html>
`;
}
