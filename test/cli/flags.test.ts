import { describe, expect, it } from 'vitest';
import { parseFlags, usage } from '../../src/cli/flags.ts';

const flagsOf = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseFlags(argv, env);
  if (!parsed.ok || parsed.help) throw new Error(`expected flags, got ${JSON.stringify(parsed)}`);
  return parsed.flags;
};
const errorOf = (argv: string[], env: Record<string, string> = {}) => {
  const parsed = parseFlags(argv, env);
  if (parsed.ok) throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  expect(parsed.exitCode).toBe(2);
  return parsed.error;
};

describe('parseFlags', () => {
  it('has defaults for everything but the files', () => {
    expect(flagsOf([])).toEqual({
      tlsCert: 'certs/tls.crt',
      tlsKey: 'certs/tls.key',
      port: 9443,
      opsPort: 8080,
      host: '0.0.0.0',
      logLevel: 'info',
      drainDelaySeconds: 5,
    });
  });

  it('reads every setting from its environment variable', () => {
    expect(
      flagsOf([], {
        DNS_TUNER_CONFIG: 'c.yaml',
        DNS_TUNER_NAMESPACES: 'ns.yaml',
        KUBECONFIG: '/home/me/.kube/config',
        DNS_TUNER_TLS_CERT: '/tls/tls.crt',
        DNS_TUNER_TLS_KEY: '/tls/tls.key',
        DNS_TUNER_PORT: '10250',
        DNS_TUNER_OPS_PORT: '9090',
        DNS_TUNER_HOST: '::',
        DNS_TUNER_LOG_LEVEL: 'debug',
        DNS_TUNER_DRAIN_DELAY: '0.5',
      }),
    ).toEqual({
      config: 'c.yaml',
      namespaces: 'ns.yaml',
      kubeconfig: '/home/me/.kube/config',
      tlsCert: '/tls/tls.crt',
      tlsKey: '/tls/tls.key',
      port: 10250,
      opsPort: 9090,
      host: '::',
      logLevel: 'debug',
      drainDelaySeconds: 0.5,
    });
  });

  it('lets a flag win over its environment variable, in both spellings', () => {
    const env = { DNS_TUNER_PORT: '1111', DNS_TUNER_CONFIG: 'env.yaml', DNS_TUNER_LOG_LEVEL: 'debug' };
    expect(flagsOf(['--port', '2222', '--config=flag.yaml'], env)).toMatchObject({
      port: 2222,
      config: 'flag.yaml',
      logLevel: 'debug',
    });
  });

  it('treats an empty environment variable as unset', () => {
    expect(flagsOf([], { DNS_TUNER_PORT: '' }).port).toBe(9443);
  });

  it('takes the last value of a repeated flag (npm start appends user flags after its own)', () => {
    const argv = ['--config', 'examples/config.yaml', '--port', '9443', '--config', 'mine.yaml', '--port=9555'];
    expect(flagsOf(argv)).toMatchObject({ config: 'mine.yaml', port: 9555 });
  });

  it('accepts port 0 (any free port) for tests', () => {
    expect(flagsOf(['--port', '0', '--ops-port', '0'])).toMatchObject({ port: 0, opsPort: 0 });
  });

  it.each([
    [['--port', 'abc'], {}, '--port: "abc" is not a port number (1-65535)'],
    [['--port', '65536'], {}, '--port: "65536" is not a port number (1-65535)'],
    [['--port', '-1'], {}, '--port: needs a value'],
    [['--ops-port', '80.5'], {}, '--ops-port: "80.5" is not a port number (1-65535)'],
    [[], { DNS_TUNER_OPS_PORT: 'http' }, 'DNS_TUNER_OPS_PORT: "http" is not a port number (1-65535)'],
    [
      ['--log-level', 'loud'],
      {},
      '--log-level: "loud" is not a log level (fatal, error, warn, info, debug, trace, silent)',
    ],
    [['--drain-delay', '5s'], {}, '--drain-delay: "5s" is not a number of seconds (0-300)'],
    [['--drain-delay', '301'], {}, '--drain-delay: "301" is not a number of seconds (0-300)'],
    [['--config='], {}, '--config: "" is not a file path'],
    [['--config'], {}, '--config: needs a value'],
    [['--prot', '9443'], {}, 'unknown flag --prot (see --help)'],
    [['serve'], {}, 'unexpected argument "serve" (flags take the form --name VALUE; see --help)'],
  ] as Array<[string[], Record<string, string>, string]>)('%j %j → %s', (argv, env, message) => {
    expect(errorOf(argv, env)).toBe(message);
  });

  it('names the environment variable when the bad value came from there, and the flag when it overrides it', () => {
    expect(errorOf([], { DNS_TUNER_PORT: 'x' })).toMatch(/^DNS_TUNER_PORT: "x"/);
    expect(errorOf(['--port', 'y'], { DNS_TUNER_PORT: '9443' })).toMatch(/^--port: "y"/);
    expect(flagsOf(['--port', '9443'], { DNS_TUNER_PORT: 'x' }).port).toBe(9443);
  });

  it('answers --help (and -h) with help, even beside other flags', () => {
    expect(parseFlags(['--help'], {})).toEqual({ ok: true, help: true });
    expect(parseFlags(['--port', '1', '-h'], {})).toEqual({ ok: true, help: true });
  });

  it('documents every flag with its environment variable', () => {
    const text = usage();
    for (const [flag, env] of [
      ['--config', 'DNS_TUNER_CONFIG'],
      ['--namespaces', 'DNS_TUNER_NAMESPACES'],
      ['--kubeconfig', 'KUBECONFIG'],
      ['--tls-cert', 'DNS_TUNER_TLS_CERT'],
      ['--tls-key', 'DNS_TUNER_TLS_KEY'],
      ['--port', 'DNS_TUNER_PORT'],
      ['--ops-port', 'DNS_TUNER_OPS_PORT'],
      ['--host', 'DNS_TUNER_HOST'],
      ['--log-level', 'DNS_TUNER_LOG_LEVEL'],
      ['--drain-delay', 'DNS_TUNER_DRAIN_DELAY'],
    ]) {
      expect(text).toMatch(new RegExp(`${flag} .*\\[\\$${env}\\]`));
    }
  });
});
