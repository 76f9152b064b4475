/**
 * Run as a child process by test/namespaces/file-source.test.ts with the Deployment's Node flags: loads a namespace
 * file with the file source and prints how many namespaces it holds and the peak RSS.
 * Usage: node namespace-file-child.ts FILE
 */
import { readFileSync } from 'node:fs';
import { createFileNamespaceSource } from '../../src/namespaces/file-source.ts';

const source = createFileNamespaceSource(process.argv[2]!);
await source.start();
const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]) * 1024;
process.stdout.write(`${JSON.stringify({ size: source.status().size, peakRss: hwm })}\n`);
