/**
 * glibc side of the dns-lab: a child process that answers one `getaddrinfo` per stdin line ("<family> <name>",
 * family 0 = AF_UNSPEC or 4 = AF_INET) through Node's `dns.lookup`, one JSON line per answer on stdout. It runs apart
 * from the lab driver because glibc can abort() the whole process on some resolv.conf files (see query-cost.ts).
 */
import { promises as dns } from 'node:dns';
import { createInterface } from 'node:readline';

for await (const line of createInterface({ input: process.stdin })) {
  const space = line.indexOf(' ');
  const family = Number(line.slice(0, space));
  const name = line.slice(space + 1);
  let reply: { addresses: string[]; error?: string };
  try {
    const found = await dns.lookup(name, { all: true, family });
    reply = { addresses: found.map((a) => a.address) };
  } catch (error) {
    reply = { addresses: [], error: String((error as NodeJS.ErrnoException).code ?? error) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
}
