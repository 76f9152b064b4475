/**
 * A loaded Kubernetes client configuration: clusters, users and contexts, and which context is current. Read by
 * ./kubeconfig.ts, applied per request by ./credentials.ts. Field names are @kubernetes/client-node's, so a
 * configuration this project leaves to client-node (./credentials.ts) is handed over as is.
 */

export interface Cluster {
  name: string;
  server: string;
  caFile?: string | undefined;
  caData?: string | undefined;
  skipTLSVerify: boolean;
  tlsServerName?: string | undefined;
  proxyUrl?: string | undefined;
}

/** An exec credential plugin (client.authentication.k8s.io). */
export interface ExecConfig {
  command: string;
  args?: string[] | undefined;
  env?: Array<{ name: string; value: string }> | undefined;
  apiVersion?: string | undefined;
}

export interface User {
  name: string;
  token?: string | undefined;
  /** Re-read every minute, as client-go's cached file token source does. */
  tokenFile?: string | undefined;
  certFile?: string | undefined;
  certData?: string | undefined;
  keyFile?: string | undefined;
  keyData?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  impersonateUser?: string | undefined;
  exec?: ExecConfig | undefined;
  authProvider?: { name: string; config?: Record<string, unknown> | undefined } | undefined;
}

export interface Context {
  name: string;
  cluster: string;
  user?: string | undefined;
  namespace?: string | undefined;
}

/** A loaded configuration: clusters, users and contexts, and which context is current. */
export class KubeConfig {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext: string | undefined;

  getClusters(): Cluster[] {
    return this.clusters;
  }

  getUsers(): User[] {
    return this.users;
  }

  getContexts(): Context[] {
    return this.contexts;
  }

  getCurrentContext(): string | undefined {
    return this.currentContext;
  }

  private context(): Context | undefined {
    return this.contexts.find((c) => c.name === this.currentContext);
  }

  /** A context by name (kubectl's default namespace is the current context's `namespace`). */
  getContextObject(name: string | undefined): Context | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }

  getCurrentCluster(): Cluster | null {
    const context = this.context();
    return this.clusters.find((c) => c.name === context?.cluster) ?? null;
  }

  getCurrentUser(): User | null {
    const context = this.context();
    return this.users.find((u) => u.name === context?.user) ?? null;
  }
}
