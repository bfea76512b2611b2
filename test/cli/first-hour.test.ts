/**
 * The first hour of a new user, through the real CLI as child processes:
 * - every command answers `--help` / `-h` without starting anything (no database file appears,
 *   the process exits on its own), `voipbin-ai --version` prints package.json's version, and a
 *   wrong flag is a usage error (exit 2) that names the flag and the command's `--help`;
 * - `voipbin-ai call` says what is wrong when nothing listens or the key is refused;
 * - the client config files (.mcp.json for Claude Code, mcp.json) run the built server from
 *   dist/ and answer `tools/list` over stdio through the real MCP SDK client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { cliEnv, startTestServer, tempDir } from '../helpers/server.js';
import type { TestServer } from '../helpers/server.js';
import { EXPECTED_TOOLS } from '../mcp/helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX_CLI = ['--import', 'tsx', 'src/cli.ts'];
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
/** Far above a normal start (~1 s under tsx): a command that waits on something never gets here. */
const EXIT_TIMEOUT_MS = 20_000;


interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `voipbin-ai <args>` (from source) with stdin closed; kills it if it does not exit in time. */
function cli(args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [...TSX_CLI, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** A loopback port nothing listens on: bound by the OS for us, then released. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const tmp = tempDir('voipbin-ai-first-hour-');
afterAll(() => tmp.cleanup());

describe('--help, --version and usage errors', () => {
  const COMMANDS = ['serve', 'mcp', 'call', 'customers', 'tools'] as const;
  const USAGE_LINE: Record<(typeof COMMANDS)[number], RegExp> = {
    serve: /^usage: voipbin-ai serve\n/,
    mcp: /^usage: voipbin-ai mcp\n/,
    call: /^usage: voipbin-ai call /,
    customers: /^usage: voipbin-ai customers create \[name\]\n/,
    tools: /^Usage: voipbin-ai tools /,
  };

  it('every command answers --help and -h with its usage, exit 0, and starts nothing: no database file, no waiting', async () => {
    const dir = join(tmp.dir, 'help');
    const db = join(dir, 'never-created.sqlite');
    // A port this test holds: a command that tried to listen would fail instead of printing help.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const env = cliEnv({ VOIPBIN_AI_DB: db, HOST: '127.0.0.1', PORT: String((holder.address() as { port: number }).port) });
    try {
      const runs = await Promise.all(
        COMMANDS.flatMap((cmd) => [
          cli([cmd, '--help'], env).then((r) => ({ cmd, flag: '--help', ...r })),
          cli([cmd, '-h'], env).then((r) => ({ cmd, flag: '-h', ...r })),
          cli(['help', cmd], env).then((r) => ({ cmd, flag: 'help <cmd>', ...r })),
        ]),
      );
      for (const r of runs) {
        expect({ cmd: r.cmd, flag: r.flag, code: r.code, signal: r.signal, stderr: r.stderr }).toEqual({
          cmd: r.cmd,
          flag: r.flag,
          code: 0,
          signal: null,
          stderr: '',
        });
        expect(r.stdout, `${r.cmd} ${r.flag}`).toMatch(USAGE_LINE[r.cmd]);
      }
      // The three ways of asking print the same text.
      for (const cmd of COMMANDS) expect(new Set(runs.filter((r) => r.cmd === cmd).map((r) => r.stdout)).size).toBe(1);
      // Nothing was opened: the database's folder was never even created.
      expect(existsSync(dir)).toBe(false);
    } finally {
      await new Promise<void>((r) => holder.close(() => r()));
    }
  }, 60_000);

  it('--version and -v print the version of package.json; the top-level help names them', async () => {
    const env = cliEnv({ VOIPBIN_AI_DB: join(tmp.dir, 'version', 'db.sqlite') });
    const [long, short, help] = await Promise.all([cli(['--version'], env), cli(['-v'], env), cli(['--help'], env)]);
    expect(long).toEqual({ code: 0, signal: null, stdout: `${VERSION}\n`, stderr: '' });
    expect(short).toEqual(long);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('voipbin-ai --version');
    expect(help.stdout).toContain('voipbin-ai help [command]');
    expect(existsSync(join(tmp.dir, 'version'))).toBe(false);
  }, 60_000);

  it('a wrong flag is exit 2 naming the flag and `<cmd> --help`, before anything starts', async () => {
    const dir = join(tmp.dir, 'bad-flags');
    const env = cliEnv({ VOIPBIN_AI_DB: join(dir, 'db.sqlite'), HOST: '127.0.0.1', PORT: '0' });
    const cases: Array<[string[], string]> = [
      [['serve', '--bogus'], 'voipbin-ai serve: unknown option --bogus; see voipbin-ai serve --help'],
      [['serve', '--port', '9000'], 'voipbin-ai serve: unknown option --port; see voipbin-ai serve --help'],
      [['serve', 'now'], 'voipbin-ai serve: unknown argument "now"; see voipbin-ai serve --help'],
      [['mcp', '--stdio'], 'voipbin-ai mcp: unknown option --stdio; see voipbin-ai mcp --help'],
      [['customers', 'create', 'acme', '--balance=5'], 'voipbin-ai customers: unknown option --balance; see voipbin-ai customers --help'],
      [['customers', 'delete'], 'voipbin-ai customers: unknown subcommand "delete"; see voipbin-ai customers --help'],
      [['call', '--too', '+15550000001'], 'voipbin-ai call: unknown option --too; see voipbin-ai call --help'],
      [['call', '--to'], 'voipbin-ai call: --to needs a value; see voipbin-ai call --help'],
      [['call', '--to', '--as', '+15550000001'], 'voipbin-ai call: --to needs a value; see voipbin-ai call --help'],
      [['call', '--key', 'a', '--key', 'b'], 'voipbin-ai call: --key given twice; see voipbin-ai call --help'],
      [['tools', '--format', 'openai', '--bogus'], 'voipbin-ai tools: unknown argument "--bogus"; see voipbin-ai tools --help'],
    ];
    const runs = await Promise.all(cases.map(([args]) => cli(args, env)));
    runs.forEach((r, i) => {
      const [args, message] = cases[i]!;
      expect({ args, code: r.code, stdout: r.stdout, first: r.stderr.split('\n')[0] }).toEqual({ args, code: 2, stdout: '', first: message });
    });
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

describe('voipbin-ai call says what is wrong', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(join(tmp.dir, 'call.sqlite'));
  });
  afterAll(async () => {
    await s?.close();
  });

  it('nothing listening: "cannot reach <url>: is `voipbin-ai serve` running?", exit 1, with and without --as', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const env = cliEnv({ VOIPBIN_LOCAL_ACCESSKEY: 'vbl_any' });
    const [listing, dialing, byEnv] = await Promise.all([
      cli(['call', '--url', url, '--to', '+15550000002'], env),
      cli(['call', '--url', `${url}/v1.0/`, '--as', '+15550000001', '--to', '+15550000002'], env),
      // The default URL is http://HOST:PORT, as `serve` reads them.
      cli(['call', '--as', '+15550000001'], { ...env, HOST: '127.0.0.1', PORT: String(port) }),
    ]);
    const want = { code: 1, stdout: '', stderr: `cannot reach ${url}: is \`voipbin-ai serve\` running?\n` };
    expect({ code: listing.code, stdout: listing.stdout, stderr: listing.stderr }).toEqual(want);
    expect({ code: dialing.code, stdout: dialing.stdout, stderr: dialing.stderr }).toEqual(want);
    expect({ code: byEnv.code, stdout: byEnv.stdout, stderr: byEnv.stderr }).toEqual(want);
  }, 60_000);

  it('a wrong key against a real server: "the access key was refused (HTTP 401)" naming where the key came from, exit 1', async () => {
    const [fromEnv, fromFlag] = await Promise.all([
      // No --as: the first request is the REST listing of numbers.
      cli(['call', '--url', s.url, '--to', '+15550000002'], cliEnv({ VOIPBIN_LOCAL_ACCESSKEY: 'vbl_wrong_key' })),
      // --as: the first request is the phone WebSocket.
      cli(['call', '--url', s.url, '--key', 'vbl_wrong_key', '--as', '+15550000001'], cliEnv()),
    ]);
    expect({ code: fromEnv.code, stdout: fromEnv.stdout, stderr: fromEnv.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: 'the access key was refused (HTTP 401): check VOIPBIN_LOCAL_ACCESSKEY\n',
    });
    expect({ code: fromFlag.code, stdout: fromFlag.stdout, stderr: fromFlag.stderr }).toEqual({
      code: 1,
      stdout: '',
      stderr: 'the access key was refused (HTTP 401): check --key\n',
    });
    // The right key gets past both checks (to the "no number" hint of an empty account).
    const right = await cli(['call', '--url', s.url, '--to', '+15550000002'], cliEnv({ VOIPBIN_LOCAL_ACCESSKEY: s.key }));
    expect({ code: right.code, stderr: right.stderr }).toEqual({
      code: 2,
      stderr: 'no local number to register as: create one (POST /v1.0/numbers) or pass --as\n',
    });
  }, 60_000);
});

/** Newest modification time of the TypeScript sources the build compiles. */
function newestSourceMtime(): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of ['src', 'tools', 'streams', 'db']) walk(join(ROOT, d));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) newest = Math.max(newest, statSync(join(ROOT, f)).mtimeMs);
  return newest;
}

interface ServerSpec {
  type?: string;
  command: string;
  args: string[];
  env?: Record<string, string>;
}

describe('client config files', () => {
  const CLI_JS = join(ROOT, 'dist', 'src', 'cli.js');
  beforeAll(() => {
    // `npm test` builds first, so this normally finds dist/ up to date and builds nothing; run
    // alone after an edit, it builds once (the configs must run what the sources say).
    if (existsSync(CLI_JS) && statSync(CLI_JS).mtimeMs >= newestSourceMtime()) return;
    const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed:\n${r.stdout}${r.stderr}`);
  }, 180_000);

  const configs: Array<[string, (spec: ServerSpec) => void]> = [
    ['.mcp.json', (spec) => expect(spec.type).toBe('stdio')],
    ['mcp.json', () => {}],
  ];

  it.each(configs)('%s runs `node dist/src/cli.js mcp` from the project root and lists every tool over stdio', async (file, extra) => {
    const spec = (JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { mcpServers: Record<string, ServerSpec> }).mcpServers['voipbin-ai']!;
    expect({ command: spec.command, args: spec.args }).toEqual({ command: 'node', args: ['dist/src/cli.js', 'mcp'] });
    extra(spec);
    expect(existsSync(join(ROOT, spec.args[0]!))).toBe(true);

    // As the client starts it: the command and args as written, cwd the project root (where
    // Claude Code runs project servers), a fresh database and no VoIPBIN key.
    const db = join(tmp.dir, `${file}.sqlite`);
    const transport = new StdioClientTransport({
      command: spec.command,
      args: spec.args,
      cwd: ROOT,
      env: cliEnv({ ...spec.env, VOIPBIN_AI_DB: db, HOST: '127.0.0.1', PORT: '0' }),
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new Client({ name: 'first-hour', version: '1.0.0' });
    try {
      await client.connect(transport);
      expect(client.getServerVersion()).toMatchObject({ name: 'voipbin-ai' });
      const names = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(names, stderr).toEqual([...EXPECTED_TOOLS].sort());
    } finally {
      await client.close();
    }
  }, 60_000);
});
