/** Small statistics and table helpers for the benchmark scripts. */

/** The q-quantile (0..1) of `samples` (sorted copy; nearest rank). */
export function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Arithmetic mean. */
export function mean(samples: number[]): number {
  return samples.reduce((sum, x) => sum + x, 0) / samples.length;
}

/** Renders rows as a Markdown table (first row = header). */
export function markdownTable(rows: (string | number)[][]): string {
  const [head, ...body] = rows.map((row) => row.map(String));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...body.map(line)].join("\n");
}

/** Formats milliseconds with a sensible precision. */
export function ms(value: number): string {
  return value < 1 ? `${(value * 1000).toFixed(0)} µs` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}
