/**
 * The cluster dns-tuner watches in the benchmark: the fake Kubernetes API (lab/fake-kube-api.ts, the real wire
 * protocol: paged list, watch, bearer token) filled with `count` synthetic namespaces (../namespaces.ts), the same
 * ones the job limit holds in its map — plus kube-system as a cluster with NodeLocal DNSCache has it (the kube-dns
 * Service, the CoreDNS ConfigMap, a ready node-local-dns DaemonSet), so the cluster facts let the full answer through.
 */
import { seedClusterDns } from '../../lab/cluster-dns.ts';
import { type FakeKubeApi, startFakeKubeApi } from '../../lab/fake-kube-api.ts';
import { namespaceMetadata } from '../namespaces.ts';

export async function startCluster(count: number): Promise<FakeKubeApi> {
  const fake = await startFakeKubeApi({ initial: [] });
  for (let i = 0; i < count; i++) {
    const { name, labels, annotations } = namespaceMetadata(i);
    fake.create(name, { labels, annotations });
  }
  seedClusterDns(fake);
  return fake;
}
