import { existsSync, readFileSync } from 'node:fs';

/** One captured request/response exchange of shared/protocol/vectors.json. */
export interface Exchange {
  kind: string;
  operation: 'ADD' | 'GET' | 'REMOVE' | 'HAVE';
  request_uid: number;
  request_frames: string[];
  response_frames: string[];
  id_len: number;
  timeout_ms?: number;
  session_len?: number;
  response: { code?: number; session_len?: number };
}

/**
 * The byte-exact vectors captured from the C tools: shared/protocol/ beside
 * this repository (as CI lays it out), or the file DISTCACHE_VECTORS names.
 */
export function loadVectors(): Exchange[] {
  const file = process.env.DISTCACHE_VECTORS ?? new URL('../../../shared/protocol/vectors.json', import.meta.url).pathname;
  if (!existsSync(file)) throw new Error(`protocol vectors not found at ${file}: check out shared/ beside this repository or set DISTCACHE_VECTORS`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { exchanges: Exchange[] }).exchanges;
}
