import { mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A directory laid out like a ConfigMap or Secret volume, updated like the kubelet's atomic writer does it
 * (pkg/volume/util/atomic_writer.go): the files go into a fresh `..<timestamp>` directory, a `..data_tmp` symlink to
 * it is renamed over `..data` (one atomic step), the visible names are symlinks `name -> ..data/name` created once,
 * and the previous timestamped directory is removed.
 */
export interface AtomicVolume {
  dir: string;
  path(name: string): string;
  /** Replaces the whole content (names left out disappear, as with a Secret key removed). */
  write(files: Record<string, string>): Promise<void>;
}

let generation = 0;

export async function atomicVolume(dir: string, files: Record<string, string>): Promise<AtomicVolume> {
  await mkdir(dir, { recursive: true });
  const visible = new Set<string>();
  const volume: AtomicVolume = {
    dir,
    path: (name) => join(dir, name),
    async write(next) {
      const stamp = `..${new Date().toISOString().replace(/[-:.]/g, '_')}.${process.pid}.${++generation}`;
      await mkdir(join(dir, stamp));
      for (const [name, content] of Object.entries(next)) await writeFile(join(dir, stamp, name), content);
      let previous: string | undefined;
      try {
        previous = await readlink(join(dir, '..data'));
      } catch {
        previous = undefined;
      }
      await symlink(stamp, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      for (const name of Object.keys(next)) {
        if (visible.has(name)) continue;
        await symlink(join('..data', name), join(dir, name));
        visible.add(name);
      }
      for (const name of [...visible]) {
        if (Object.hasOwn(next, name)) continue;
        await rm(join(dir, name), { force: true });
        visible.delete(name);
      }
      if (previous) await rm(join(dir, previous), { recursive: true, force: true });
    },
  };
  await volume.write(files);
  return volume;
}
