/**
 * One observer made of several (metrics and log lines, say): every callback named in `callbacks` calls each
 * observer's in turn, and a throw from one observer is swallowed — it neither silences the others nor reaches the
 * cache that reports. Shared by the namespace cache and the cluster-facts caches.
 */
type Callback = (...args: unknown[]) => void;

export function fanOut<T extends object>(callbacks: ReadonlyArray<keyof T & string>, observers: T[]): Required<T> {
  const out: Record<string, Callback> = {};
  for (const name of callbacks) {
    out[name] = (...args: unknown[]) => {
      for (const observer of observers) {
        try {
          (observer as Record<string, Callback | undefined>)[name]?.(...args);
        } catch {
          // One observer's bug does not silence the others.
        }
      }
    };
  }
  return out as Required<T>;
}
