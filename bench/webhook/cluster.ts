/**
 * The cluster dns-tuner watches in the benchmark: the fake Kubernetes API (lab/fake-kube-api.ts, the real wire
 * protocol: paged list, watch, bearer token) filled with `count` synthetic namespaces (../namespaces.ts), the same
 * ones the job limit holds in its map.
 */
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { namespaceMetadata } from '../namespaces.ts';

export async function startCluster(count: number): Promise<FakeKubeApi> {
  const fake = await startFakeKubeApi({ initial: [] });
  for (let i = 0; i < count; i++) {
    const { name, labels, annotations } = namespaceMetadata(i);
    fake.create(name, { labels, annotations });
  }
  return fake;
}
