import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** PEM file paths of a certificate and its key. */
export interface CertFiles {
  key: string;
  cert: string;
}

/**
 * Test PKI made with the openssl CLI in a temp dir: a CA, and certificates
 * it signs for loopback IPs (usable as server and client certificates).
 */
export class TestCa {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'distcache-pki-'));
  readonly ca: CertFiles;

  constructor(readonly name: string) {
    this.ca = { key: this.#file(`${name}-ca.key`), cert: this.#file(`${name}-ca.pem`) };
    openssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name} test CA`,
      '-keyout',
      this.ca.key,
      '-out',
      this.ca.cert,
    );
  }

  /** A certificate for `ips`, signed by this CA. */
  issue(label: string, ips: string[]): CertFiles {
    const files = { key: this.#file(`${label}.key`), cert: this.#file(`${label}.pem`) };
    const csr = this.#file(`${label}.csr`);
    const ext = this.#file(`${label}.ext`);
    writeFileSync(
      ext,
      `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`,
    );
    openssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${label}`,
      '-keyout',
      files.key,
      '-out',
      csr,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      this.ca.cert,
      '-CAkey',
      this.ca.key,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-out',
      files.cert,
    );
    return files;
  }

  #file(name: string): string {
    return path.join(this.dir, name);
  }
}

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}
