/**
 * A tiny PKI for development and tests: a CA and serving certificates signed by it, as PEM strings.
 * ECDSA P-256 via WebCrypto (node:crypto's webcrypto), certificates built with @peculiar/x509.
 * The crypto provider is passed explicitly on every call so no process-wide provider is installed.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto;

const KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface Pem {
  cert: string;
  key: string;
}

export interface Ca extends Pem {
  /** Kept for signing; not serialisable. */
  keys: webcrypto.CryptoKeyPair;
  certificate: x509.X509Certificate;
}

export interface CaOptions {
  commonName?: string;
  days?: number;
}

export interface ServingCertOptions {
  /** DNS names and IP addresses for the subjectAltName; the first one is also the common name. */
  hosts: string[];
  days?: number;
  /** Override validity start (tests of expired certificates). */
  notBefore?: Date;
}

/** The apiserver (Go crypto/x509) only checks SANs, never the CN; IP literals must be IP SANs. */
export const DEV_HOSTS = [
  'localhost',
  '127.0.0.1',
  '::1',
  'dns-tuner.dns-tuner.svc',
  'dns-tuner.dns-tuner.svc.cluster.local',
];

export async function makeCa(options: CaOptions = {}): Promise<Ca> {
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerial(),
      name: `CN=${options.commonName ?? 'dns-tuner dev CA'}`,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + (options.days ?? 3650) * DAY_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: certificate.toString('pem'), key: await privateKeyPem(keys.privateKey), keys, certificate };
}

export async function makeServingCert(ca: Ca, options: ServingCertOptions): Promise<Pem> {
  const [first] = options.hosts;
  if (first === undefined) throw new Error('makeServingCert: at least one host is needed');
  const keys = await crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const certificate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerial(),
      subject: `CN=${first}`,
      issuer: ca.certificate.subject,
      notBefore,
      notAfter: new Date(notBefore.getTime() + (options.days ?? 365) * DAY_MS),
      signingAlgorithm: SIGNING_ALGORITHM,
      publicKey: keys.publicKey,
      signingKey: ca.keys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          options.hosts.map((host) => ({ type: isIP(host) === 0 ? 'dns' : 'ip', value: host })),
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { cert: certificate.toString('pem'), key: await privateKeyPem(keys.privateKey) };
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

/** 16 random bytes with the top bit cleared: a positive INTEGER as RFC 5280 requires. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return Buffer.from(bytes).toString('hex');
}
