import { DistCacheError, ErrorCode } from './errors.js';

/** An optional peer dependency of distcache: installed by the application that uses the feature needing it. */
export interface OptionalDependency {
  /** The npm package, e.g. `@kubernetes/client-node`. */
  readonly name: string;
  /** The version range distcache declares in `peerDependencies`. */
  readonly range: string;
  /** What needs it, for the error message, e.g. `KubernetesDiscovery`. */
  readonly neededBy: string;
}

/**
 * Imports an optional peer dependency once, when the module that needs it is
 * imported, and answers a function that returns it or, when the package is
 * not installed, throws ERR_MISSING_DEPENDENCY naming the package and the
 * command that installs it. So importing a provider never fails; using it
 * without its client fails with an error that says what to do.
 *
 * ```ts
 * const client = await importOptional(DEPENDENCY, () => import('the-client'));
 * // in the constructor:
 * const { connect } = client();
 * ```
 *
 * Errors other than a missing module (a package that throws while loading)
 * are thrown as they are.
 */
export async function importOptional<T>(dependency: OptionalDependency, load: () => Promise<T>): Promise<() => T> {
  let loaded: T;
  try {
    loaded = await load();
  } catch (error) {
    if ((error as { code?: unknown })?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    return () => {
      throw missingDependency(dependency, error);
    };
  }
  return () => loaded;
}

/** ERR_MISSING_DEPENDENCY for `dependency`, with the install command. */
function missingDependency(dependency: OptionalDependency, cause?: unknown): DistCacheError {
  const { name, range, neededBy } = dependency;
  return new DistCacheError(
    ErrorCode.MISSING_DEPENDENCY,
    `${neededBy} needs the package ${name}, an optional peer dependency of distcache that is not installed: ` +
      `run npm install ${name}@${range}`,
    { cause },
  );
}
