/**
 * `distcache/tls`: Node TLS servers (`tls.Server`, `https.Server`) share
 * their sessions through distcache, so a client resumes on any server of a
 * fleet. See {@link shareTlsSessions}.
 */
export {
  shareTlsSessions,
  type ShareTlsSessionsOptions,
  type TlsSessionSharing,
  type TlsSessionSharingStats,
} from './share-sessions.js';
export {
  SessionCacheClient,
  type SessionCacheCallOptions,
  type SessionCacheClientOptions,
} from '../protocol/session-cache-client.js';
export type { TlsEngine } from './shared-cache.js';
