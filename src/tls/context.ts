/** The serving certificate as Node's TLS layer takes it, with the settings every context of ours shares. */
import type { SecureContextOptions } from 'node:tls';

export interface TlsFiles {
  cert: string | Buffer;
  key: string | Buffer;
}

/** TLS settings shared by the first context and every hot swap (setSecureContext replaces all of them). */
export function tlsContextOptions(tls: TlsFiles): SecureContextOptions {
  return { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' };
}
