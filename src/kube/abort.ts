/**
 * An AbortSignal that follows `sources` until disposed. Not `AbortSignal.any`: combined with a long-lived signal (a
 * cache's lifetime), observed composites pile up on it (https://github.com/nodejs/node/issues/64476).
 */
export function linkedSignal(...sources: Array<AbortSignal | undefined>): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const listeners: Array<[AbortSignal, () => void]> = [];
  for (const source of sources) {
    if (!source) continue;
    if (source.aborted) {
      controller.abort(source.reason);
      break;
    }
    const forward = () => controller.abort(source.reason);
    source.addEventListener('abort', forward, { once: true });
    listeners.push([source, forward]);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [source, forward] of listeners) source.removeEventListener('abort', forward);
    },
  };
}
