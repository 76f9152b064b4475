/**
 * Where the repository and its shipped examples are, and the webhook's in-cluster name: shared by the tests, the
 * benchmarks and the scripts. No imports beyond node: core tests and the benchmarks' parent process load it without
 * the HTTP stack.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root, with a trailing slash. */
export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const EXAMPLE_CONFIG = join(ROOT, 'examples', 'config.yaml');
export const EXAMPLE_NAMESPACES = join(ROOT, 'examples', 'namespaces.yaml');
export const EXAMPLE_REVIEW = join(ROOT, 'examples', 'admission-review.json');

/** The Service name the apiserver checks the serving certificate against (manifests/: Service dns-tuner/dns-tuner). */
export const SERVICE_NAME = 'dns-tuner.dns-tuner.svc';
