/**
 * Clients of a running dns-tuner: an HTTPS POST that trusts only the given CA and checks the certificate against a
 * server name, as the apiserver does, and the ops port's /metrics and /readyz.
 */
import https from 'node:https';

export interface HttpsResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** POSTs over HTTPS trusting only `ca` and checking the certificate against `servername`, as the apiserver does. */
export function httpsPost(
  port: number,
  path: string,
  body: string | Buffer,
  tls: { ca: string; servername: string; agent?: https.Agent },
  headers: Record<string, string> = { 'content-type': 'application/json' },
): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca: tls.ca,
        servername: tls.servername,
        agent: tls.agent ?? false,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** The value of one sample in Prometheus text format; `labels` as written, e.g. `result="ok"`. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  const wanted = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (line.slice(0, space) !== wanted) continue;
    const value = line.slice(space + 1);
    return value === '+Inf' ? Number.POSITIVE_INFINITY : value === '-Inf' ? Number.NEGATIVE_INFINITY : Number(value);
  }
  return undefined;
}

export async function scrape(opsPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
  return res.text();
}

export interface Readyz {
  status: number;
  failing: Array<{ name: string; reason: string }>;
}

export async function readyz(opsPort: number): Promise<Readyz> {
  const res = await fetch(`http://127.0.0.1:${opsPort}/readyz`);
  const body = (await res.json()) as { failing: Readyz['failing'] };
  return { status: res.status, failing: body.failing };
}
