import type { NatsConnection, Msg, TlsOptions } from '@nats-io/transport-node';
import { z } from 'zod';
import { isDiscoveryAddress, type DiscoveryContext, type DiscoveryProvider } from '../src/discovery.js';
import { importOptional } from '../src/optional-dependency.js';
import { parseOptions, timerMs } from '../src/validate.js';

/** The NATS client is an optional peer dependency: only this provider needs it. */
const natsClient = await importOptional(
  { name: '@nats-io/transport-node', range: '^3.3.1', neededBy: 'NatsDiscovery' },
  () => import('@nats-io/transport-node'),
);

/** Options of {@link NatsDiscovery}. */
export interface NatsDiscoveryOptions {
  /** NATS server URLs or `host:port`, e.g. `nats://127.0.0.1:4222`. */
  servers: string | string[];
  /** Subject the nodes of one cluster announce themselves on. Default `distcache.discovery`. */
  subject?: string;
  /** A token, when the server wants one. */
  token?: string;
  /** User and password, when the server wants them. */
  user?: string;
  pass?: string;
  /** The text of a NATS `.creds` file (JWT and NKey seed), when the server uses decentralised auth. */
  credentials?: string;
  /** TLS to the server: `ca`, `cert`, `key` (PEM text) or `caFile`, `certFile`, `keyFile`. */
  tls?: TlsOptions;
  /** How often a node announces itself again, in ms; a node unheard for 3 intervals is forgotten. Default 30 000. */
  announceInterval?: number;
  /** Wait between connection attempts while no server answers, in ms. Default 1 000. */
  reconnectInterval?: number;
}

/** A discovery message on the subject. */
export interface Announcement {
  /** `join`: a node arrived and asks the others to answer; `alive`: a node is there; `leave`: a node is going. */
  type: 'join' | 'alive' | 'leave';
  /** The sender's discovery address (`host:port`). */
  address: string;
}

/** Largest announcement accepted, in bytes; ours are about 80. */
const MAX_ANNOUNCEMENT_BYTES = 512;
/** Most addresses remembered; announcements of more nodes are ignored. */
const MAX_KNOWN = 4_096;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes an announcement (JSON: `{"distcache":1,"type":...,"address":...}`). */
export function encodeAnnouncement(announcement: Announcement): Uint8Array {
  return encoder.encode(JSON.stringify({ distcache: 1, type: announcement.type, address: announcement.address }));
}

/** Decodes an announcement; anything that is not one of ours, or is malformed, gives `undefined`. */
export function decodeAnnouncement(data: Uint8Array): Announcement | undefined {
  if (data.length > MAX_ANNOUNCEMENT_BYTES) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { distcache, type, address } = parsed as Record<string, unknown>;
  if (distcache !== 1 || (type !== 'join' && type !== 'alive' && type !== 'leave') || !isDiscoveryAddress(address))
    return undefined;
  return { type, address };
}

/**
 * Peers through NATS: each node announces its discovery address on a subject
 * when it joins (the others answer with theirs), again every
 * `announceInterval`, and announces its leave. While NATS is unreachable the
 * known addresses are kept and the client reconnects; on reconnection the
 * node announces itself again, so nodes started during the outage are found.
 *
 * Needs the package `@nats-io/transport-node` (an optional peer dependency of
 * distcache): without it the constructor throws ERR_MISSING_DEPENDENCY.
 */
export class NatsDiscovery implements DiscoveryProvider {
  readonly name = 'nats';
  readonly #options: ResolvedOptions;
  /** Address → when it was last heard (ms). */
  readonly #known = new Map<string, number>();
  #context: DiscoveryContext | undefined;
  #connection: NatsConnection | undefined;
  #connecting: Promise<void> | undefined;
  #retry: NodeJS.Timeout | undefined;
  #announce: NodeJS.Timeout | undefined;
  #stopped = true;
  /** Connection attempts failed in a row: the first is a warning, the rest debug lines. */
  #failedConnects = 0;
  readonly #inbox: string;

  /** Throws ERR_MISSING_DEPENDENCY without `@nats-io/transport-node`, ERR_INVALID_CONFIG for bad options. */
  constructor(options: NatsDiscoveryOptions) {
    this.#inbox = natsClient().createInbox('_INBOX.distcache');
    this.#options = validate(options);
  }

  /** Connects (one attempt; retried in the background while the servers are down) and announces this node. */
  async start(context: DiscoveryContext): Promise<void> {
    this.#context = context;
    this.#stopped = false;
    await this.#connect();
    this.#announce = setInterval(() => this.#tick(), this.#options.announceInterval);
  }

  /** Announces the leave and closes the connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#announce);
    await this.#connecting;
    const connection = this.#connection;
    this.#connection = undefined;
    if (!connection) return;
    this.#publish(connection, 'leave');
    await connection.flush().catch(() => undefined);
    await connection.close();
  }

  async addresses(): Promise<string[]> {
    return [...this.#known.keys()];
  }

  #connect(): Promise<void> {
    this.#connecting ??= this.#tryConnect().finally(() => (this.#connecting = undefined));
    return this.#connecting;
  }

  async #tryConnect(): Promise<void> {
    const { servers, token, user, pass, credentials, tls, reconnectInterval } = this.#options;
    const { connect, credsAuthenticator } = natsClient();
    try {
      const connection = await connect({
        servers,
        name: `distcache ${this.#self()}`,
        noEcho: true,
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: reconnectInterval,
        timeout: Math.max(reconnectInterval, 2_000),
        ...(token ? { token } : {}),
        ...(user ? { user, pass } : {}),
        ...(credentials ? { authenticator: credsAuthenticator(encoder.encode(credentials)) } : {}),
        ...(tls ? { tls } : {}),
      });
      if (this.#stopped) return void (await connection.close());
      this.#connection = connection;
      this.#failedConnects = 0;
      this.#listen(connection);
      void this.#followStatus(connection);
      this.#join(connection);
      this.#context?.logger.info(
        { server: connection.getServer(), subject: this.#options.subject },
        'NATS discovery connected',
      );
    } catch (error) {
      if (this.#stopped) return;
      const fields = { servers, err: (error as Error).message, retryIn: reconnectInterval };
      if (this.#failedConnects++ === 0)
        this.#context?.logger.warn(
          fields,
          'NATS discovery cannot reach a server; keeping the known members and retrying',
        );
      else this.#context?.logger.debug(fields, 'NATS discovery still cannot reach a server');
      this.#retry = setTimeout(() => void this.#connect(), reconnectInterval);
    }
  }

  /** Listens on the subject, and on this node's inbox for the answers to its joins. */
  #listen(connection: NatsConnection): void {
    const receive = (error: Error | null, message: Msg): void => {
      if (!error) this.#receive(message);
    };
    connection.subscribe(this.#options.subject, { callback: receive });
    connection.subscribe(this.#inbox, { callback: receive });
  }

  /** Announces this node and asks the others to answer on its inbox. */
  #join(connection: NatsConnection): void {
    connection.publish(this.#options.subject, encodeAnnouncement({ type: 'join', address: this.#self() }), {
      reply: this.#inbox,
    });
  }

  #receive(message: Msg): void {
    const announcement = decodeAnnouncement(message.data);
    if (!announcement) {
      this.#context?.logger.debug(
        { subject: message.subject, bytes: message.data.length },
        'NATS discovery ignored a message that is not an announcement',
      );
      return;
    }
    if (announcement.address === this.#self()) return;
    if (announcement.type === 'leave') {
      this.#known.delete(announcement.address);
      return;
    }
    if (announcement.type === 'join' && message.reply && this.#connection)
      message.respond(encodeAnnouncement({ type: 'alive', address: this.#self() }));
    this.#remember(announcement.address);
  }

  #remember(address: string): void {
    const isNew = !this.#known.has(address);
    if (isNew && this.#known.size >= MAX_KNOWN) return;
    this.#known.set(address, Date.now());
    if (isNew) this.#context?.changed();
  }

  /** Re-announces on every reconnection: nodes that started during the outage learn of this one, and it of them. */
  async #followStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === 'reconnect' && !this.#stopped) {
        this.#context?.logger.info({ server: status.server }, 'NATS discovery reconnected');
        this.#join(connection);
      } else if (status.type === 'disconnect') {
        this.#context?.logger.warn(
          { server: status.server },
          'NATS discovery lost its server; keeping the known members and reconnecting',
        );
      }
    }
  }

  /** Announces again and forgets nodes unheard for 3 intervals (only while connected: an outage forgets nobody). */
  #tick(): void {
    const connection = this.#connection;
    if (!connection || connection.isClosed()) return;
    this.#publish(connection, 'alive');
    const forgetBefore = Date.now() - 3 * this.#options.announceInterval;
    for (const [address, heard] of this.#known) if (heard < forgetBefore) this.#known.delete(address);
  }

  #publish(connection: NatsConnection, type: Announcement['type']): void {
    try {
      connection.publish(this.#options.subject, encodeAnnouncement({ type, address: this.#self() }));
    } catch (error) {
      this.#context?.logger.debug({ err: (error as Error).message }, 'NATS discovery could not publish');
    }
  }

  #self(): string {
    return this.#context?.self ?? '';
  }
}

const natsOptionsSchema = z
  .strictObject({
    servers: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .transform((servers) => (typeof servers === 'string' ? [servers] : servers)),
    subject: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be dot-separated tokens without wildcards')
      .default('distcache.discovery'),
    token: z.string().optional(),
    user: z.string().optional(),
    pass: z.string().optional(),
    credentials: z.string().optional(),
    tls: z
      .custom<TlsOptions>((value) => typeof value === 'object' && value !== null, 'must be an object of TLS options')
      .optional(),
    announceInterval: timerMs.default(30_000),
    reconnectInterval: timerMs.default(1_000),
  })
  .refine((options) => (options.user === undefined) === (options.pass === undefined), {
    message: 'user and pass go together',
    path: ['pass'],
  });

type ResolvedOptions = z.infer<typeof natsOptionsSchema>;

function validate(options: NatsDiscoveryOptions): ResolvedOptions {
  return parseOptions(natsOptionsSchema, options, 'NatsDiscovery options');
}
