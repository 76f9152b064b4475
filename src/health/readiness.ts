/**
 * Readiness: named checks that /readyz (src/http/ops-app.ts) and `dns_tuner_ready{check}` (src/metrics/readiness.ts)
 * both evaluate, each bounded in time, so the probe and the metric can never disagree.
 */
import type { NamespaceSource } from '../namespaces/source.ts';

export interface ReadinessResult {
  ok: boolean;
  /** Why not ready; shown in the /readyz body. */
  reason?: string | undefined;
}

export interface ReadinessCheck {
  name: string;
  check: () => ReadinessResult | Promise<ReadinessResult>;
}

export interface CheckReport {
  name: string;
  ok: boolean;
  reason?: string | undefined;
}

export async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<CheckReport> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ReadinessResult>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, reason: `check did not answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const result = await Promise.race([Promise.resolve().then(check.check), timeout]);
    return result.ok
      ? { name: check.name, ok: true }
      : { name: check.name, ok: false, reason: result.reason ?? 'not ready' };
  } catch (error) {
    return {
      name: check.name,
      ok: false,
      reason: `check failed: ${error instanceof Error ? error.message : String(error)}`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Ready once the namespace source has its first full list (and, for the cluster cache, while it is fresh). */
export function namespaceSourceCheck(source: NamespaceSource): ReadinessCheck {
  return {
    name: 'namespaces',
    check: () => {
      const status = source.status();
      return status.ready ? { ok: true } : { ok: false, reason: status.reason ?? 'namespace source not ready' };
    },
  };
}
