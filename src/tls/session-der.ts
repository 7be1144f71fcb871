/** The protocol version field of TLS 1.3 in a serialized session. */
export const TLS1_3_VERSION = 0x0304;

/**
 * The protocol version a serialized OpenSSL session (the DER that Node's
 * `newSession` event carries) was negotiated with: 0x0303 for TLS 1.2,
 * 0x0304 for TLS 1.3; undefined when the bytes do not start as one.
 *
 * The session is `SEQUENCE { INTEGER 1, INTEGER ssl_version, ... }`
 * (OpenSSL's SSL_SESSION_ASN1); only those first two fields are read.
 */
export function sessionProtocolVersion(der: Uint8Array): number | undefined {
  if (der[0] !== 0x30) return undefined;
  let at = 1;
  const lengthByte = der[at++];
  if (lengthByte === undefined) return undefined;
  if (lengthByte & 0x80) at += lengthByte & 0x7f; // long form: the length's bytes follow
  const format = readSmallInteger(der, at);
  if (format === undefined || format.value !== 1) return undefined;
  return readSmallInteger(der, format.next)?.value;
}

/** A DER INTEGER of 1 or 2 content bytes at `at`, and where the next field starts. */
function readSmallInteger(der: Uint8Array, at: number): { value: number; next: number } | undefined {
  if (der[at] !== 0x02) return undefined;
  const length = der[at + 1];
  if (length !== 1 && length !== 2) return undefined;
  if (der.byteLength < at + 2 + length) return undefined;
  const value = length === 1 ? der[at + 2]! : (der[at + 2]! << 8) | der[at + 3]!;
  return { value, next: at + 2 + length };
}
