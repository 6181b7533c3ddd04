import levenshtein from 'fast-levenshtein';

/**
 * The known name nearest to a mistyped one by Levenshtein distance, ignoring case, within a
 * third of the typed name's length (at least 1), as git's and npm's did-you-mean do with
 * their own bounds; undefined when none is that near.
 *
 * @param typed - the name as given, e.g. `evry`
 * @param known - the names it may have meant, e.g. `every`
 */
export function nearestName(typed: string, known: Iterable<string>): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = levenshtein.get(typed.toLowerCase(), name.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  return best !== undefined && best.distance <= Math.max(1, Math.floor(typed.length / 3)) ? best.name : undefined;
}
