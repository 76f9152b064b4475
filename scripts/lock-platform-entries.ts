/**
 * Adds lockfile entries for the Biome platform binaries this machine's registry does not carry.
 *
 * The npm registry mirror reachable here serves only the Linux glibc builds of `@biomejs/cli-*`; the others 404, so
 * `npm install` leaves them out of package-lock.json, and `npm ci` then refuses the lockfile as "not in sync"
 * (it rebuilds the ideal tree from `@biomejs/biome`'s optionalDependencies). Entries without an integrity hash are
 * enough: npm never fetches a package whose os/cpu/libc do not match the machine. `npm install` keeps them.
 * Run after regenerating the lockfile from scratch: `npx node scripts/lock-platform-entries.ts`.
 */
import { readFileSync, writeFileSync } from 'node:fs';

type Entry = Record<string, unknown> & { version: string; optionalDependencies?: Record<string, string> };
const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8')) as { packages: Record<string, Entry> };
const biome = lock.packages['node_modules/@biomejs/biome'];
if (!biome) throw new Error('no @biomejs/biome in package-lock.json');

let added = 0;
for (const [name, version] of Object.entries(biome.optionalDependencies ?? {})) {
  const key = `node_modules/${name}`;
  if (lock.packages[key]) continue;
  const [os, cpu, libc] = name.replace('@biomejs/cli-', '').split('-');
  lock.packages[key] = {
    version,
    dev: true,
    optional: true,
    os: [os],
    cpu: [cpu],
    ...(libc === 'musl' ? { libc: ['musl'] } : {}),
  };
  added++;
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entries added`);
