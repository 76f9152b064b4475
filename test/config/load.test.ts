import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_CONFIG } from '../../lab/paths.ts';
import { ConfigError, loadConfig, parseConfigText } from '../../src/config/load.ts';
import { parseConfig } from '../../src/config/schema.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dns-tuner-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const errorOf = (text: string) => {
  const parsed = parseConfigText(text, 'c.yaml');
  if (parsed.ok) throw new Error('expected an error');
  return parsed.error;
};

describe('loadConfig', () => {
  it('loads the example configuration', async () => {
    const config = await loadConfig(EXAMPLE_CONFIG);
    expect(config).toMatchObject({ clusterDNS: '10.96.0.10', nodeLocalDNS: '169.254.20.10', mode: 'enforce' });
    expect(Object.keys(config.policies)).toEqual(expect.arrayContaining(['default', 'options-only']));
  });

  it('uses the built-in configuration without a file', async () => {
    const builtIn = parseConfig({});
    expect(builtIn.ok).toBe(true);
    expect(await loadConfig(undefined)).toEqual(builtIn.ok ? builtIn.config : undefined);
  });

  it('names the file when it is missing', async () => {
    const missing = join(dir, 'nope.yaml');
    await expect(loadConfig(missing)).rejects.toThrow(new ConfigError(`config file ${missing}: not found`));
  });

  it('names file, line, field and value of an invalid setting', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'clusterDNS: 10.96.0.10\npolicies:\n  default:\n    ndots: 20\n');
    await expect(loadConfig(file)).rejects.toThrow(`invalid config ${file}:4:12: policies.default.ndots:`);
    await expect(loadConfig(file)).rejects.toThrow(/got 20$/);
  });

  it('refuses a file over 64 KiB before parsing it (YAML costs follow shape: 700 KB of flow mappings need ~260 MB)', async () => {
    const path = join(dir, 'huge.yaml');
    const unit = '{a: 1, b: [x, y]}, ';
    await writeFile(path, `policies: {default: {}}\nx: [${unit.repeat(Math.ceil((64 * 1024) / unit.length))}]\n`);
    await expect(loadConfig(path)).rejects.toThrow(/config file .*huge\.yaml is \d+ bytes; the limit is 65536/);
    await writeFile(path, `# ${'x'.repeat(60 * 1024)}\npolicies: {default: {ndots: 2}}\n`);
    expect((await loadConfig(path)).policies.default?.ndots).toBe(2);
  });

  it('names the file and the alias when an alias has no anchor (the parser accepts it; toJS throws)', async () => {
    const file = join(dir, 'alias.yaml');
    await writeFile(file, 'clusterDNS: 10.96.0.10\nmode: *nope\n');
    await expect(loadConfig(file)).rejects.toThrow(
      new ConfigError(
        `invalid config ${file}:2:7: YAML error: Unresolved alias (the anchor must be set before the alias): nope`,
      ),
    );
  });
});

describe('parseConfigText', () => {
  it('reports YAML syntax errors with their line', () => {
    expect(errorOf('mode: enforce\npolicies:\n  a: [\n')).toMatch(/^c\.yaml:4:1: YAML syntax error: /);
  });

  it('rejects duplicate keys instead of silently keeping the last', () => {
    expect(errorOf('mode: enforce\nmode: dry-run\n')).toMatch(
      /^c\.yaml:2:1: YAML syntax error: Map keys must be unique/,
    );
  });

  it('reports an alias to no anchor, and too many aliases, as errors naming the file instead of throwing', () => {
    expect(errorOf('mode: enforce\npolicies:\n  default: *missing\n')).toBe(
      'c.yaml:3:12: YAML error: Unresolved alias (the anchor must be set before the alias): missing',
    );
    // A "billion laughs" document: each level multiplies the aliases by ten.
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const name of ['b', 'c', 'd', 'e']) {
      const previous = String.fromCharCode(name.charCodeAt(0) - 1);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    expect(errorOf(`${levels.join('\n')}\n`)).toMatch(/^c\.yaml: YAML error: Excessive alias count/);
  });

  it('points each problem at its own line', () => {
    const error = errorOf('mode: enforcing\nclusterDNS: 10.96.0.300\n');
    expect(error.split('\n')).toEqual([
      expect.stringMatching(/^c\.yaml:1:7: mode: .*"enforcing"/),
      expect.stringMatching(/^c\.yaml:2:13: clusterDNS: .*"10\.96\.0\.300" is not an IP address/),
    ]);
  });

  it('names a bad resolver option by its index and text', () => {
    expect(errorOf('policies:\n  default:\n    options: [rotate, "timeout:99"]\n')).toMatch(
      /^c\.yaml:3:23: policies\.default\.options\.1: option "timeout:99"/,
    );
  });
});

describe('a config file with no content is refused, not read as the built-in configuration', () => {
  const empty: Array<[string, string]> = [
    ['empty', ''],
    ['null', 'null\n'],
    ['~', '~\n'],
    ['---', '---\n'],
    ['--- and ...', '---\n...\n'],
    ['only comments', '# policies moved to another file\n# (nothing here)\n'],
    ['only whitespace', '\n   \n'],
  ];
  it.each(empty)('%s', (_name, text) => {
    expect(errorOf(text)).toBe(
      'c.yaml: the file has no content (empty, null or only comments); write {} for the built-in configuration',
    );
  });

  it('at start (loadConfig names the file)', async () => {
    const file = join(dir, 'empty.yaml');
    await writeFile(file, '# nothing\n');
    await expect(loadConfig(file)).rejects.toThrow(`invalid config ${file}: the file has no content`);
  });

  it('while {} still asks for the built-in configuration explicitly', () => {
    const builtIn = parseConfig({});
    expect(parseConfigText('{}\n', 'c.yaml')).toEqual(builtIn);
  });
});

describe('the cluster settings (issue 10)', () => {
  it('clusterDNS and clusterDomain are optional: a node-local policy with the fallback needs neither at load', () => {
    const parsed = parseConfigText('nodeLocalDNS: 169.254.20.10\npolicies:\n  p: {nodeLocal: true}\n', 'c.yaml');
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.config.clusterDNS).toBeUndefined();
    expect(parsed.config.clusterDomain).toBeUndefined();
    expect(parsed.config).toMatchObject({
      nodeLocalMode: 'auto',
      discovery: {
        kubeDnsService: { namespace: 'kube-system', name: 'kube-dns' },
        coreDnsConfigMap: { namespace: 'kube-system', name: 'coredns' },
        nodeLocalNamespace: 'kube-system',
      },
      policies: { p: { nodeLocal: true, fallback: true }, default: { nodeLocal: true, fallback: true } },
    });
  });

  it('reads nodeLocalMode and discovery, and names what is wrong in them', () => {
    const parsed = parseConfigText(
      'nodeLocalMode: link-local\ndiscovery:\n  kubeDnsService: kube-system/coredns\n  nodeLocalNamespace: dns\n',
      'c.yaml',
    );
    expect(parsed.ok && parsed.config).toMatchObject({
      nodeLocalMode: 'link-local',
      discovery: { kubeDnsService: { namespace: 'kube-system', name: 'coredns' }, nodeLocalNamespace: 'dns' },
    });
    expect(errorOf('nodeLocalMode: iptables\n')).toMatch(/^c\.yaml:1:16: nodeLocalMode: .*"auto".*, got "iptables"$/);
    expect(errorOf('discovery:\n  kubeDnsService: kube-dns\n')).toBe(
      'c.yaml:2:19: discovery.kubeDnsService: "kube-dns" is not namespace/name',
    );
    expect(errorOf('discovery:\n  nodeLocalNamespace: Kube_System\n')).toBe(
      'c.yaml:2:23: discovery.nodeLocalNamespace: "Kube_System" is not a namespace name (RFC 1123 label)',
    );
    expect(errorOf('discovery:\n  kubeDns: kube-system/kube-dns\n')).toMatch(/^c\.yaml:2:3: discovery: .*kubeDns/);
  });
});
