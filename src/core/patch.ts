/**
 * The JSON Patch (RFC 6902) from the pod as received to the pod as the engine wants it: fast-json-patch's `compare`,
 * operation for operation and byte for byte (the same walk, the same order: old keys last to first, then new keys),
 * made for the engine's copy-on-write input (./decide.ts `applyTo`): an object shared by both sides is skipped before
 * its path is even built, and operation values are not deep-cloned through JSON — they are the engine's own copy,
 * serialised straight away, and must be treated as read-only like the rest of a Decision.
 * https://github.com/Starcounter-Jack/JSON-Patch/blob/master/src/duplex.ts (_generate)
 */
import type { PatchOperation } from './types.ts';

type Json = Record<string, unknown> | unknown[];

/** Keys as fast-json-patch lists them: an array's indices as strings, an object's own enumerable keys. */
function keysOf(value: Json): string[] {
  if (!Array.isArray(value)) return Object.keys(value);
  const keys = new Array<string>(value.length);
  for (let i = 0; i < value.length; i++) keys[i] = String(i);
  return keys;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function pointerToken(key: string): string {
  if (key.indexOf('/') === -1 && key.indexOf('~') === -1) return key;
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** What fast-json-patch's _deepClone turns `undefined` into (JSON.stringify does the same for array items). */
function jsonValue(value: unknown): unknown {
  return value === undefined ? null : value;
}

function isContainer(value: unknown): value is Json {
  return typeof value === 'object' && value !== null;
}

function generate(before: Json, after: Json, ops: PatchOperation[], path: string): void {
  const beforeKeys = keysOf(before);
  const afterKeys = keysOf(after);
  const b = before as Record<string, unknown>;
  const a = after as Record<string, unknown>;
  const afterIsArray = Array.isArray(after);
  let deleted = false;
  for (let i = beforeKeys.length - 1; i >= 0; i--) {
    const key = beforeKeys[i]!;
    const old = b[key];
    if (Object.hasOwn(a, key) && !(a[key] === undefined && old !== undefined && !afterIsArray)) {
      const now = a[key];
      if (isContainer(old) && isContainer(now) && Array.isArray(old) === Array.isArray(now)) {
        // The same object on both sides (shared by the copy-on-write): nothing below it changed.
        if (old !== now) generate(old, now, ops, `${path}/${pointerToken(key)}`);
      } else if (old !== now) {
        ops.push({ op: 'replace', path: `${path}/${pointerToken(key)}`, value: jsonValue(now) });
      }
    } else if (Array.isArray(before) === afterIsArray) {
      ops.push({ op: 'remove', path: `${path}/${pointerToken(key)}` });
      deleted = true;
    } else {
      ops.push({ op: 'replace', path, value: after });
    }
  }
  if (!deleted && afterKeys.length === beforeKeys.length) return;
  for (const key of afterKeys) {
    if (!Object.hasOwn(b, key) && a[key] !== undefined) {
      ops.push({ op: 'add', path: `${path}/${pointerToken(key)}`, value: jsonValue(a[key]) });
    }
  }
}

/** The operations that turn `before` into `after` (two JSON objects). */
export function diff(before: Record<string, unknown>, after: Record<string, unknown>): PatchOperation[] {
  const ops: PatchOperation[] = [];
  if (before !== after) generate(before, after, ops, '');
  return ops;
}
