/**
 * Re-records the golden corpus's answers (test/http/fixtures/golden.json) from the code as it is now. Only for a
 * change that means to change what /mutate answers: the diff of the fixture then shows every answer that changed.
 * Usage: node test/http/golden.record.ts && npm run format (Biome formats the fixture)
 */
import { writeFileSync } from 'node:fs';
import { GOLDEN_FILE, goldenCorpus, runGolden } from '../support/golden.ts';

const requests = goldenCorpus();
const golden = await runGolden(requests);
writeFileSync(GOLDEN_FILE, `${JSON.stringify(golden, null, 1)}\n`);
process.stdout.write(`${GOLDEN_FILE}: ${golden.answers.length} answers recorded\n`);
