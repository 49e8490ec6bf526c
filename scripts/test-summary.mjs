#!/usr/bin/env node
// Adds up the jest JSON reports (test-results/*.json) every workspace wrote and prints one closing line for CI.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const group of ['packages', 'apps', 'tests']) {
  for (const name of readdirSync(group)) {
    const results = join(group, name, 'test-results');
    if (!existsSync(results)) continue;
    // jest.json, and the image tier's kube-play.json beside it.
    for (const file of readdirSync(results).filter((f) => f.endsWith('.json'))) {
      const r = JSON.parse(readFileSync(join(results, file), 'utf8'));
      if (typeof r.numPassedTests !== 'number') continue;
      passed += r.numPassedTests;
      failed += r.numFailedTests;
      skipped += r.numPendingTests + (r.numTodoTests ?? 0);
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
