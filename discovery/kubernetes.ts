import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { KubeConfig, ListWatch, V1Pod, Watch } from '@kubernetes/client-node';
import { z } from 'zod';
import {
  discoveryAddress,
  isDiscoveryAddress,
  type DiscoveryContext,
  type DiscoveryProvider,
} from '../src/discovery.js';
import { DistCacheError, ErrorCode } from '../src/errors.js';
import { importOptional } from '../src/optional-dependency.js';
import { parseOptions, portNumber, timerMs } from '../src/validate.js';

/** The Kubernetes client is an optional peer dependency: only this provider needs it. */
const kubernetesClient = await importOptional(
  { name: '@kubernetes/client-node', range: '^1.4.0', neededBy: 'KubernetesDiscovery' },
  () => import('@kubernetes/client-node'),
);

/** Options of {@link KubernetesDiscovery}. */
export interface KubernetesDiscoveryOptions {
  /** Label selector of the cache's pods, e.g. `app=distcache`. */
  labelSelector: string;
  /** Namespace of the pods. Default: the pod's own namespace (from its service account), else `default`. */
  namespace?: string;
  /** Name of the container port that is the discovery port. Default `discovery`. */
  portName?: string;
  /** Discovery port when no container declares `portName`. Default 3322. */
  port?: number;
  /** A kubeconfig file, or a loaded `KubeConfig`. Default: the in-cluster service account. */
  kubeConfig?: string | KubeConfig;
  /** Wait before the watch is opened again after an error, in ms. Default 1 000. */
  retryInterval?: number;
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * Peers from the Kubernetes API: lists and watches the pods matching
 * `labelSelector` (the client's informer), and answers the Running pods whose
 * Ready condition is True, at their pod IP and discovery port. The watch
 * resumes from the last resourceVersion after an error, and relists when the
 * API answers 410 Gone. The service account needs `list` and `watch` on pods
 * (deploy/kubernetes/rbac.yaml).
 *
 * Needs the package `@kubernetes/client-node` (an optional peer dependency of
 * distcache): without it the constructor throws ERR_MISSING_DEPENDENCY.
 */
export class KubernetesDiscovery implements DiscoveryProvider {
  readonly name = 'kubernetes';
  readonly #options: ResolvedOptions;
  #informer: ListWatch<V1Pod> | undefined;
  #context: DiscoveryContext | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = true;
  /** Watch failures since the last event. */
  #failures = 0;

  /** Throws ERR_MISSING_DEPENDENCY without `@kubernetes/client-node`, ERR_INVALID_CONFIG for bad options. */
  constructor(options: KubernetesDiscoveryOptions) {
    this.#options = validate(options);
  }

  /** Lists the pods and opens the watch; an unreachable API is logged and retried, not thrown. */
  async start(context: DiscoveryContext): Promise<void> {
    this.#context = context;
    this.#stopped = false;
    const { kubeConfig, namespace, labelSelector } = this.#options;
    const client = kubernetesClient();
    const api = kubeConfig.makeApiClient(client.CoreV1Api);
    const ignore = (what: string) =>
      context.logger.debug({ what }, 'Kubernetes discovery ignored an object without metadata.name');
    const list = async () => {
      const pods = await api.listNamespacedPod({ namespace, labelSelector });
      return {
        ...pods,
        items: (Array.isArray(pods.items) ? pods.items : []).filter((pod) => hasName(pod) || void ignore('list item')),
      };
    };
    const informer = new client.ListWatch<V1Pod>(
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`,
      checkedWatch(kubeConfig, ignore),
      list,
      false,
      labelSelector,
    );
    this.#informer = informer;
    informer.on('change', () => {
      this.#failures = 0;
      context.changed();
    });
    informer.on('error', (error) => this.#retryAfter(error));
    await this.#open();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#informer?.stop();
  }

  async addresses(): Promise<string[]> {
    const pods = this.#informer?.list(this.#options.namespace) ?? [];
    return pods.flatMap((pod) => this.#addressOf(pod) ?? []);
  }

  async #open(): Promise<void> {
    try {
      await this.#informer?.start();
    } catch (error) {
      this.#retryAfter(error);
    }
  }

  /** The watch stopped on an error: open it again (from the last resourceVersion) after retryInterval. */
  #retryAfter(error: unknown): void {
    if (this.#stopped) return;
    // Warn on the 1st, 2nd, 4th, 8th... failure in a row: an API outage reminds without flooding the log.
    const failures = ++this.#failures;
    const level = (failures & (failures - 1)) === 0 ? 'warn' : 'debug';
    this.#context?.logger[level](
      { err: (error as Error)?.message ?? String(error), failures, retryIn: this.#options.retryInterval },
      'Kubernetes discovery lost its watch; keeping the known pods and retrying',
    );
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => void this.#open(), this.#options.retryInterval);
  }

  /** The pod's discovery address when it is Running and Ready, else undefined. */
  #addressOf(pod: V1Pod): string | undefined {
    const status = pod?.status;
    const ready = status?.conditions?.some?.(
      (condition) => condition?.type === 'Ready' && condition?.status === 'True',
    );
    if (status?.phase !== 'Running' || !ready || pod.metadata?.deletionTimestamp) return undefined;
    const address =
      typeof status.podIP === 'string' && isIP(status.podIP) !== 0
        ? discoveryAddress(status.podIP, this.#portOf(pod))
        : undefined;
    if (address !== undefined && isDiscoveryAddress(address)) return address;
    this.#context?.logger.debug(
      { pod: pod.metadata?.name, podIP: status.podIP },
      'Kubernetes discovery ignored a ready pod without a usable IP',
    );
    return undefined;
  }

  #portOf(pod: V1Pod): number {
    const containers = Array.isArray(pod.spec?.containers) ? pod.spec.containers : [];
    for (const container of containers) {
      const port = (Array.isArray(container?.ports) ? container.ports : []).find(
        (candidate) => candidate?.name === this.#options.portName,
      );
      if (port && Number.isInteger(port.containerPort) && port.containerPort > 0 && port.containerPort < 65_536)
        return port.containerPort;
    }
    return this.#options.port;
  }
}

/**
 * The client's Watch, passing on only events whose object the informer can
 * store: it dereferences `object.metadata` unchecked, and a malformed event
 * would otherwise end as an unhandled rejection.
 */
function checkedWatch(config: KubeConfig, ignore: (what: string) => void): Watch {
  const watch = new (kubernetesClient().Watch)(config);
  const open = watch.watch.bind(watch);
  watch.watch = (path, query, callback, done) =>
    open(
      path,
      query,
      (phase, object, event) => {
        const usable = phase === 'ERROR' ? typeof object === 'object' && object !== null : hasName(object);
        if (usable) callback(phase, object, event);
        else ignore(`watch event ${String(phase)}`);
      },
      done,
    );
  return watch;
}

function hasName(object: unknown): boolean {
  const metadata = (object as { metadata?: { name?: unknown } } | null)?.metadata;
  return typeof metadata === 'object' && metadata !== null && typeof metadata.name === 'string';
}

const kubernetesOptionsSchema = z.strictObject({
  labelSelector: z
    .string()
    .refine((selector) => selector.trim() !== '', 'must be a label selector such as "app=distcache"'),
  namespace: z.preprocess(
    (namespace) => namespace ?? ownNamespace(),
    z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a Kubernetes namespace name'),
  ),
  portName: z.string().min(1, 'must be a container port name').default('discovery'),
  port: portNumber.default(3322),
  kubeConfig: z
    .union([z.string().min(1), z.custom<KubeConfig>(isKubeConfig, 'must be a kubeconfig file or a KubeConfig')])
    .optional(),
  retryInterval: timerMs.default(1_000),
});

type ResolvedOptions = Omit<z.infer<typeof kubernetesOptionsSchema>, 'kubeConfig'> & { kubeConfig: KubeConfig };

function validate(options: KubernetesDiscoveryOptions): ResolvedOptions {
  kubernetesClient();
  const parsed = parseOptions(kubernetesOptionsSchema, options, 'KubernetesDiscovery options');
  return { ...parsed, kubeConfig: loadKubeConfig(parsed.kubeConfig) };
}

/** The given KubeConfig, the kubeconfig file, or the in-cluster service account; ERR_INVALID_CONFIG when none can be loaded. */
function loadKubeConfig(given: string | KubeConfig | undefined): KubeConfig {
  const invalid = (message: string, cause?: unknown) =>
    new DistCacheError(ErrorCode.INVALID_CONFIG, `KubernetesDiscovery: ${message}`, { cause });
  const kubeConfig = isKubeConfig(given) ? given : new (kubernetesClient().KubeConfig)();
  if (!isKubeConfig(given)) {
    if (given === undefined && !process.env.KUBERNETES_SERVICE_HOST)
      throw invalid('not running in Kubernetes (KUBERNETES_SERVICE_HOST is unset): pass kubeConfig, a kubeconfig file');
    try {
      if (given === undefined) kubeConfig.loadFromCluster();
      else kubeConfig.loadFromFile(given);
    } catch (error) {
      throw invalid(
        `cannot load ${given === undefined ? 'the in-cluster config' : `kubeconfig ${given}`}: ${(error as Error).message}`,
        error,
      );
    }
  }
  if (!kubeConfig.getCurrentCluster())
    throw invalid('the kubeconfig names no current cluster (outside Kubernetes, pass kubeConfig: a kubeconfig file)');
  return kubeConfig;
}

function isKubeConfig(value: unknown): value is KubeConfig {
  return value instanceof kubernetesClient().KubeConfig;
}

/** The namespace of the pod this runs in, from its service account; `default` outside Kubernetes. */
function ownNamespace(): string {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  } catch {
    return 'default';
  }
}
