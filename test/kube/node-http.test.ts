/**
 * The server never loads Node's bundled undici (fetch, WebSocket): nothing uses it, and it costs ~9 MiB of RSS.
 * An ES module import of node:http would load it (src/kube/node-http.ts says why).
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { spawnNode } from '../../lab/process.ts';

describe('the server process', () => {
  it('does not load undici', async () => {
    const script = fileURLToPath(new URL('../support/module-load-child.ts', import.meta.url));
    const run = spawnNode(script, [], { killAfterMs: 20_000 });
    const { code } = await run.exit;
    expect({ code, stderr: run.stderr() }).toEqual({ code: 0, stderr: '' });
    const loaded = JSON.parse(run.stdout()) as string[];
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.filter((m) => m.includes('undici'))).toEqual([]);
  });
});
