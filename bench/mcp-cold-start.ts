/**
 * MCP stdio cold start: `npx tsx bench/mcp-cold-start.ts` (or `npm run bench -- mcp-cold-start`).
 *
 * What an MCP client waits for when it starts a stdio server: spawn → `initialize` answered →
 * `tools/list` answered. The client writes `initialize` at once after spawning (as Claude Code and
 * Claude Desktop do), then `notifications/initialized` and `tools/list` when the answer arrives.
 * Measured for
 *   ours (dist)  `node dist/src/cli.js mcp`, as .mcp.json and mcp.json run it
 *   ours (tsx)   `node --import tsx src/cli.ts mcp`, the old config, for comparison
 *   reference    `@modelcontextprotocol/server-everything` in stdio mode, when installed
 * Each run gets a fresh temporary VOIPBIN_AI_DB (so ours creates its database and local customer
 * every time: the first start on a machine, the slowest case), PORT=0, no VoIPBIN key and no
 * provider keys. The targets take turns run by run, so a change of machine load hits all alike;
 * two warm-up rounds fill the file cache first. Runs `npm run build` first (BENCH_NO_BUILD=1 skips).
 *
 * Env: BENCH_RUNS (default 15), BENCH_NO_WRITE=1 to only print (else the cold-start section of
 * BENCHMARKS.md is rewritten).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { writeBenchmarkSection } from './_benchmarks-md.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const WARMUP = 2;
const TARGET_MS = 400;
const EVERYTHING = join(ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything');

interface Target {
  name: string;
  command: string;
  args: string[];
}

const targets: Target[] = [
  { name: 'ours, dist (`node dist/src/cli.js mcp`)', command: process.execPath, args: ['dist/src/cli.js', 'mcp'] },
  { name: 'ours, tsx (`node --import tsx src/cli.ts mcp`)', command: process.execPath, args: ['--import', 'tsx', 'src/cli.ts', 'mcp'] },
];
let everythingVersion: string | undefined;
if (existsSync(join(EVERYTHING, 'package.json'))) {
  const pkg = JSON.parse(readFileSync(join(EVERYTHING, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
  everythingVersion = pkg.version;
  const entry = join(EVERYTHING, Object.values(pkg.bin)[0]!);
  targets.push({ name: `reference: server-everything ${pkg.version} (\`node .../dist/index.js stdio\`)`, command: process.execPath, args: [entry, 'stdio'] });
}

/** The environment of a run: nothing that configures voipbin-ai except what the run sets. */
function runEnv(dbPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(VOIPBIN_|MCP_)|_API_KEY$|^(LOG_LEVEL|HOST|PORT|NODE_OPTIONS)$/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, VOIPBIN_AI_DB: dbPath, HOST: '127.0.0.1', PORT: '0' };
}

interface Sample {
  initMs: number;
  toolsMs: number;
  tools: number;
}

/** One cold start: spawn, initialize, tools/list; then stdin is closed and the exit awaited. */
function coldStart(t: Target): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), 'voipbin-ai-cold-'));
  return new Promise<Sample>((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(t.command, t.args, { cwd: ROOT, env: runEnv(join(dir, 'db.sqlite')), stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let initMs = 0;
    let result: Sample | undefined;
    const send = (m: unknown) => child.stdin.write(JSON.stringify(m) + '\n');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${t.name}: no tools/list answer in 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { id?: number; result?: { tools?: unknown[] }; error?: unknown };
        if (msg.error) reject(new Error(`${t.name}: ${JSON.stringify(msg.error)}`));
        if (msg.id === 1) {
          initMs = performance.now() - t0;
          send({ jsonrpc: '2.0', method: 'notifications/initialized' });
          send({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} });
        } else if (msg.id === 2) {
          result = { initMs, toolsMs: performance.now() - t0, tools: msg.result?.tools?.length ?? 0 };
          clearTimeout(timer);
          child.stdin.end();
          // Not timed: a server that ignores stdin closing would stall the bench, so stop it.
          setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
        }
      }
    });
    child.on('error', reject);
    child.on('close', () => {
      rmSync(dir, { recursive: true, force: true });
      if (result) resolve(result);
      else reject(new Error(`${t.name}: exited before answering; stderr: ${stderr}`));
    });
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cold-start-bench', version: '1' } },
    });
  });
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const f0 = (x: number) => x.toFixed(0);

if (!process.env.BENCH_NO_BUILD) {
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('bench: the build failed; the dist row would measure stale code');
    process.exit(1);
  }
}

const load = loadavg();
const samples = new Map<Target, Sample[]>(targets.map((t) => [t, []]));
for (let round = 0; round < WARMUP + RUNS; round++) {
  for (const t of targets) {
    const s = await coldStart(t);
    if (round >= WARMUP) samples.get(t)!.push(s);
  }
}

const out: string[] = [];
const log = (s = '') => {
  out.push(s);
  console.log(s);
};
const cpu = cpus();
log('## MCP stdio cold start (`npx tsx bench/mcp-cold-start.ts`)');
log();
log(
  `Run ${new Date().toISOString().slice(0, 10)} on ${cpu.length} cores (nproc; ${cpu[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}; load average at start ` +
    `${load.map((x) => x.toFixed(1)).join(' / ')}. ${RUNS} runs per server after ${WARMUP} warm-up rounds, taking turns. ` +
    'Time from spawn to the `initialize` answer and to the `tools/list` answer (the client sends `initialize` at once, ' +
    '`tools/list` after the answer). Ours runs on a fresh temporary database each time (it creates the schema and the ' +
    'local customer: a first start), PORT=0, no VoIPBIN or provider key. dist/src/cli.js is one esbuild bundle ' +
    '(`npm run build`, script `build:cli`; better-sqlite3 and the resampler WASM stay external): most of a cold start ' +
    'was Node resolving and loading several hundred separate module files, which tsx also transpiles.',
);
log();
log('| server | tools | initialize min / p50 / p95 ms | tools/list min / p50 / p95 ms |');
log('|---|---|---|---|');
for (const t of targets) {
  const s = samples.get(t)!;
  const init = s.map((x) => x.initMs);
  const tools = s.map((x) => x.toolsMs);
  log(
    `| ${t.name} | ${s[0]!.tools} | ${f0(Math.min(...init))} / ${f0(pct(init, 50))} / ${f0(pct(init, 95))} | ` +
      `${f0(Math.min(...tools))} / ${f0(pct(tools, 50))} / ${f0(pct(tools, 95))} |`,
  );
}
log();
const ours = samples.get(targets[0]!)!.map((x) => x.toolsMs);
const viaTsx = samples.get(targets[1]!)!.map((x) => x.toolsMs);
const ref = everythingVersion ? samples.get(targets[2]!)!.map((x) => x.toolsMs) : undefined;
log(
  `From dist our server answers \`tools/list\` in ${f0(pct(ours, 50))} ms at the median (p95 ${f0(pct(ours, 95))} ms; ` +
    `target <= ${TARGET_MS} ms: ${pct(ours, 95) <= TARGET_MS ? 'met at p95' : pct(ours, 50) <= TARGET_MS ? 'met at the median, not at p95' : 'not met'}), ` +
    `${f0(pct(viaTsx, 50) - pct(ours, 50))} ms sooner than through tsx` +
    (ref ? `; the reference server takes ${f0(pct(ref, 50))} ms.` : '; the reference server is not installed.'),
);

writeBenchmarkSection('mcp-cold-start.ts', out);
