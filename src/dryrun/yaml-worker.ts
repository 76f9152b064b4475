/**
 * The worker thread behind ./yaml-isolate.ts: parses one YAML body at a time with the same reader as everywhere
 * else (./input.ts) and posts back the single document as JSON text (bounded by the reader; a string crosses the
 * thread boundary in one copy, an object graph node by node), or the coded error. Runs with its own small heap, so a
 * body built to exhaust memory kills this thread, never the webhook.
 */
import { parentPort } from 'node:worker_threads';
import { parseYamlDocuments, singleDocument } from './input.ts';

export interface YamlJob {
  id: number;
  text: string;
}

export type YamlAnswer =
  | { id: number; ok: true; json: string }
  | { id: number; ok: false; code: string; message: string }
  /** Sent once, when the modules are loaded: the parse deadline starts then, not while the thread boots. */
  | { ready: true };

parentPort?.on('message', ({ id, text }: YamlJob) => {
  const docs = parseYamlDocuments(text);
  const one = docs.ok ? singleDocument(docs.value) : docs;
  const answer: YamlAnswer = one.ok
    ? { id, ok: true, json: JSON.stringify(one.value) }
    : { id, ok: false, code: one.error.code, message: one.error.message };
  parentPort?.postMessage(answer);
});

parentPort?.postMessage({ ready: true } satisfies YamlAnswer);
