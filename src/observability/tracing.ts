import {
  ProxyTracerProvider,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';

/** The provider the OpenTelemetry API answers with while no application registered one. */
const NOOP_PROVIDER = new ProxyTracerProvider().getDelegate();
/**
 * The global provider, looked up again every 4,096 calls: the lookup costs
 * about 10 ns, a tenth of a cache hit's budget, while the provider it returns
 * (the API's proxy, which a registration fills in) almost never changes.
 */
let provider: TracerProvider = trace.getTracerProvider();
let calls = 0;
let cached: { provider: TracerProvider; tracer: Tracer } | undefined;

/**
 * distcache's tracer when the application registered an OpenTelemetry tracer
 * provider, else undefined: without a provider, tracing costs this check and
 * no span object is made.
 */
export function activeTracer(): Tracer | undefined {
  if ((++calls & 4095) === 0) provider = trace.getTracerProvider();
  const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
  if (delegate === NOOP_PROVIDER) return undefined;
  if (cached?.provider !== delegate) cached = { provider: delegate, tracer: delegate.getTracer('distcache') };
  return cached.tracer;
}

/**
 * Runs `work` inside an active span `name` (so spans it starts are children),
 * and ends the span with `distcache.outcome` set from the result or the
 * error's code.
 */
export function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Attributes,
  work: () => Promise<T>,
  outcomeOf: (value: T) => string,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span: Span) => {
    try {
      const value = await work();
      span.setAttribute('distcache.outcome', outcomeOf(value));
      return value;
    } catch (error) {
      span.setAttribute('distcache.outcome', errorOutcome(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** The outcome label of a failure: its DistCacheError code, else `error`. */
export function errorOutcome(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_') ? code : 'error';
}
