/**
 * Runs every benchmark in bench/ (each `*.ts` file here except this one and `_`-prefixed helpers),
 * one at a time in its own Node process so they do not disturb each other's timings or heaps.
 *
 *   npm run bench                # all
 *   npm run bench -- audio       # only files whose name contains "audio"
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('.', import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== self && !f.startsWith('_'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

if (files.length === 0) {
  console.error(`bench: no bench files match ${filters.join(', ') || '(any)'}`);
  process.exit(1);
}
const failed: string[] = [];
for (const file of files) {
  console.log(`\n=== bench/${file} ===\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(dir, file)], { stdio: 'inherit' });
  if (r.status !== 0) failed.push(`${file} (exit ${r.status ?? r.signal})`);
}
if (failed.length > 0) {
  console.error(`\nbench: failed: ${failed.join(', ')}`);
  process.exit(1);
}
