import { readFileSync } from 'node:fs';

/** One captured request/response exchange of test/fixtures/protocol-vectors.json. */
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
 * The byte-exact exchanges captured on loopback between the C distcache 1.5
 * dc_test and dc_server (docs/protocol.md describes the format). They are
 * kept in the repository so that a fresh clone tests against them.
 */
export function loadVectors(): Exchange[] {
  const file = new URL('../fixtures/protocol-vectors.json', import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { exchanges: Exchange[] }).exchanges;
}
