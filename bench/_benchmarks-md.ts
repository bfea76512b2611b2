/**
 * Writes one bench's section of BENCHMARKS.md, between `<!-- bench/<name>:start -->` and
 * `<!-- bench/<name>:end -->` (appended when the file has none yet), leaving every other section as
 * it is. Read just before writing: other benches rewrite their own sections of the same file.
 * `BENCH_NO_WRITE=1` only prints.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const FILE = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

export function writeBenchmarkSection(benchFile: string, lines: string[]): void {
  if (process.env.BENCH_NO_WRITE) return;
  const start = `<!-- bench/${benchFile}:start -->`;
  const end = `<!-- bench/${benchFile}:end -->`;
  const section = `${start}\n${lines.join('\n')}\n${end}`;
  let text = existsSync(FILE) ? readFileSync(FILE, 'utf8') : '# Benchmarks\n\nRun all: `npm run bench` (= `tsx bench/run.ts`).\n\n';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + section + text.slice(b + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(FILE, text);
  console.log(`\nwrote ${FILE}`);
}

/** A bench's markdown output: lines printed as they come and kept for {@link writeBenchmarkSection}. */
export interface MarkdownLog {
  readonly lines: string[];
  log(line?: string): void;
  table(header: string[], rows: (string | number)[][]): void;
}

/** A {@link MarkdownLog} printing to the console. */
export function markdownLog(): MarkdownLog {
  const lines: string[] = [];
  const log = (line = ''): void => {
    console.log(line);
    lines.push(line);
  };
  return {
    lines,
    log,
    table(header, rows) {
      log(`| ${header.join(' | ')} |`);
      log(`|${header.map(() => '---').join('|')}|`);
      for (const r of rows) log(`| ${r.join(' | ')} |`);
      log();
    },
  };
}
