/**
 * Writes the kustomize components' copies of the monitoring kit (lab/monitoring-components.ts says which and why).
 *
 *   npx node scripts/monitoring-components.ts
 */
import { relative } from 'node:path';
import { writeMonitoringComponents } from '../lab/monitoring-components.ts';

for (const file of writeMonitoringComponents()) console.log(`wrote ${relative(process.cwd(), file)}`);
