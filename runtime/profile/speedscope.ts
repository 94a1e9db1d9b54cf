/**
 * speedscope's file format (https://www.speedscope.app/file-format-schema.json): one "sampled"
 * profile whose samples are the call paths with fuel of their own, weighted by that fuel.
 */
import { stacks } from './model.ts';
import type { Profile } from './model.ts';

export function toSpeedscope(p: Profile): string {
  const frames: { name: string }[] = [];
  const index = new Map<string, number>();
  const frameOf = (name: string): number => {
    let i = index.get(name);
    if (i === undefined) {
      i = frames.length;
      frames.push({ name });
      index.set(name, i);
    }
    return i;
  };
  const samples: number[][] = [];
  const weights: number[] = [];
  for (const { path, self } of stacks(p)) {
    // The root names the run; speedscope shows every stack under it.
    samples.push(path.map((n) => frameOf(n.name)));
    weights.push(Number(self));
  }
  const file = {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    exporter: 'docklock',
    name: p.root.name,
    activeProfileIndex: 0,
    shared: { frames },
    profiles: [
      {
        type: 'sampled',
        name: `${p.root.name} (fuel)`,
        unit: 'none',
        startValue: 0,
        endValue: Number(p.root.total),
        samples,
        weights,
      },
    ],
  };
  return `${JSON.stringify(file)}\n`;
}
