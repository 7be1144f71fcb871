import assert from 'node:assert/strict';
import { DistCacheError, type ErrorCode } from '../../src/index.js';

/** Asserts that `promise` rejects with a DistCacheError of `code`, and returns it. */
export async function rejectsWithCode(promise: Promise<unknown>, code: ErrorCode): Promise<DistCacheError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DistCacheError, `expected a DistCacheError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** Asserts that `fn` throws a DistCacheError of `code`, and returns it. */
export function throwsWithCode(fn: () => unknown, code: ErrorCode): DistCacheError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DistCacheError, `expected a DistCacheError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected a throw with ${code}`);
}
