import { DistCacheError, ErrorCode } from '../errors.js';
import { PeerReplyError } from './peer-client.js';

/** A failure to reach a node (down, timed out, stopping), as opposed to an answer from it. */
export function isUnreachable(error: unknown): boolean {
  if (error instanceof PeerReplyError) return error.code === ErrorCode.ENGINE_NOT_STARTED;
  return (
    error instanceof DistCacheError && (error.code === ErrorCode.PEER_UNAVAILABLE || error.code === ErrorCode.TIMEOUT)
  );
}
