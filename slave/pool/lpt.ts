/**
 * Splits `items` into at most `n` non-empty lists of about equal total cost: longest item
 * first, each to the list with the least cost so far (Graham's LPT rule, 1969: the longest
 * list is within 4/3 of the best possible split).
 *
 * @param n - number of lists wanted, >= 1; fewer come back when there are fewer items
 * @param cost - an item's expected cost (any unit, >= 0)
 * @returns the lists, costliest first; each keeps the input order of its items
 */
export function splitLongestFirst<T>(items: readonly T[], n: number, cost: (item: T) => number): T[][] {
  const bins = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, () => ({ load: 0, items: [] as number[] }));
  const byCost = items.map((_, i) => i).sort((a, b) => cost(items[b] as T) - cost(items[a] as T) || a - b);
  for (const i of byCost) {
    const bin = bins.reduce((a, b) => (b.load < a.load ? b : a));
    bin.load += cost(items[i] as T);
    bin.items.push(i);
  }
  return bins
    .filter((b) => b.items.length > 0)
    .sort((a, b) => b.load - a.load)
    .map((b) => b.items.sort((x, y) => x - y).map((i) => items[i] as T));
}
