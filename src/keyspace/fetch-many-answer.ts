import { describeValue } from '../errors.js';

/**
 * The values of a `fetchMany` answer in the order of `keys` (`undefined` for
 * a key it left out). Throws, with a message that says what to change, for
 * an answer of the wrong shape: neither a Map nor an array, an array of
 * another length, or a Map holding a key that was not asked for (typically a
 * numeric id where the keys are strings, which would otherwise make every
 * key silently "not found").
 */
export function alignFetchManyAnswer(answer: unknown, keys: readonly string[]): readonly unknown[] {
  if (Array.isArray(answer)) {
    if (answer.length === keys.length) return answer;
    throw new Error(
      `fetchMany answered an array of ${answer.length} values for ${keys.length} keys; ` +
        'an array must hold one value (or undefined) per key, in the order of the keys',
    );
  }
  if (answer instanceof Map) {
    const asked = new Set(keys);
    for (const key of answer.keys()) {
      if (typeof key !== 'string' || !asked.has(key)) {
        throw new Error(
          `fetchMany answered a Map with the key ${describeValue(key)} (${typeof key}), which was not asked for; ` +
            'a Map must be keyed by the string keys given',
        );
      }
    }
    return keys.map((key) => answer.get(key) as unknown);
  }
  throw new Error(
    `fetchMany must resolve a Map of the keys asked or an array aligned with them, got ${describeValue(answer)}`,
  );
}
