#!/usr/bin/env node
/**
 * The `voipbin-ai` command. Every subcommand parses its arguments with the one shared parser
 * (src/cli-args.ts) before it loads anything heavy, so `--help` and usage errors never open a
 * database or bind a port. Command modules are imported on demand: `mcp` is started by MCP
 * clients on every session, and it should not pay for loading the softphone or the HTTP MCP
 * transport.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseOrExit } from './cli-args.js';
import type { CommandOutput, CommandSpec } from './cli-args.js';
import { packageRoot } from './util/paths.js';

const HELP = `voipbin-ai: phone-call AI voice agents on VoIPBIN

Usage:
  voipbin-ai serve                    local VoIPBIN API (+ MCP over HTTP) on HOST:PORT (default 127.0.0.1:8080)
  voipbin-ai mcp                      MCP server over stdio (for Claude Desktop, Claude Code, Cursor, VS Code)
  voipbin-ai customers create [name]  create a local customer; prints {"customer_id","accesskey"} as JSON
  voipbin-ai tools [--names a,b | --ai <ai_id>] [--format json-schema|openai|realtime|anthropic|gemini]
                                      print the AI tool functions as an agent will be offered them
  voipbin-ai call [--to N] [--as N] [--play in.wav] [--record out.wav]
                                      a command-line softphone for the local VoIPBIN
  voipbin-ai help [command]           this text, or a command's (same as voipbin-ai <command> --help)
  voipbin-ai --version                the version

Environment: see README.md (HOST, PORT, VOIPBIN_AI_DB, VOIPBIN_API_URL, VOIPBIN_ACCESSKEY, ...).`;

const SERVE: CommandSpec<Record<string, never>> = {
  name: 'serve',
  options: {},
  usage: `usage: voipbin-ai serve

  The main job: the local VoIPBIN /v1.0 API on SQLite, the call engine, the local phone, media
  stream and carrier WebSockets, and MCP over Streamable HTTP at /mcp, on HOST:PORT
  (default 127.0.0.1:8080; PORT=0 picks a free port). Prints the local access key at first start.
  Stops cleanly on SIGINT/SIGTERM.

  Environment: HOST, PORT, VOIPBIN_AI_DB, VOIPBIN_LOCAL_ACCESSKEY, MCP_HTTP_TOKEN, LOG_LEVEL, ... (README.md).`,
};

const MCP: CommandSpec<Record<string, never>> = {
  name: 'mcp',
  options: {},
  usage: `usage: voipbin-ai mcp

  MCP over stdio: stdout carries only the protocol, logs go to stderr. Runs until stdin closes
  or SIGINT/SIGTERM. With VOIPBIN_ACCESSKEY the tools use api.voipbin.net (or VOIPBIN_API_URL);
  without it, the local VoIPBIN on VOIPBIN_AI_DB (the same database as serve).
  LLM keys for create_ai are read from this process's environment (OPENAI_API_KEY, ...).`,
};

const CUSTOMERS: CommandSpec<Record<string, never>> = {
  name: 'customers',
  options: {},
  maxPositionals: 2,
  usage: `usage: voipbin-ai customers create [name]

  Creates a local customer with its own access key in VOIPBIN_AI_DB and prints
  {"customer_id": ..., "accesskey": ...} (the key is shown once; only its hash is stored).`,
};

const io: CommandOutput = {
  out: (l) => process.stdout.write(l + '\n'),
  err: (l) => process.stderr.write(l + '\n'),
};

/** The version in the package's package.json (from src/ under tsx and from dist/ alike). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

async function serve(argv: string[]): Promise<number> {
  const args = parseOrExit(SERVE, argv, io);
  if (typeof args === 'number') return args;
  const [{ loadConfig }, { startServer }, { MCP_PATH, registerMcpHttp }] = await Promise.all([
    import('./config.js'),
    import('./server.js'),
    import('./mcp/http.js'),
  ]);
  const config = loadConfig();
  // MCP over Streamable HTTP is served at /mcp of the same app.
  const server = await startServer(config, { extend: (app, ctx, parts) => registerMcpHttp(app, ctx, config, { gateway: parts.gateway }) });
  const out = process.stdout;
  out.write(`voipbin-ai: local VoIPBIN API at ${server.url}/v1.0 (database ${config.dbPath})\n`);
  out.write(`voipbin-ai: MCP (Streamable HTTP) at ${server.url}${MCP_PATH} (Authorization: Bearer <access key or MCP_HTTP_TOKEN>)\n`);
  out.write(`voipbin-ai: Prometheus metrics at ${server.url}/metrics\n`);
  if (server.newLocalKey) {
    out.write(`voipbin-ai: local access key (shown once, only its hash is stored): ${server.newLocalKey}\n`);
    out.write(`voipbin-ai: try: curl -H "Authorization: Bearer ${server.newLocalKey}" ${server.url}/v1.0/ais\n`);
  } else {
    out.write(
      'voipbin-ai: the local access key was printed at first start; lost it? restart with VOIPBIN_LOCAL_ACCESSKEY=<a key of your choice> to add that key\n',
    );
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`voipbin-ai: ${signal}, shutting down\n`);
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

async function mcp(argv: string[]): Promise<number> {
  const args = parseOrExit(MCP, argv, io);
  if (typeof args === 'number') return args;
  const { runMcpStdio } = await import('./mcp/stdio.js');
  return runMcpStdio();
}

async function customers(argv: string[]): Promise<number> {
  const args = parseOrExit(CUSTOMERS, argv, io);
  if (typeof args === 'number') return args;
  const [sub, name] = args.positionals;
  if (sub !== 'create') {
    io.err(`voipbin-ai customers: ${sub === undefined ? 'missing subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}; see voipbin-ai customers --help`);
    return 2;
  }
  const [{ loadConfig }, { SqliteStore }, { createCustomer }] = await Promise.all([
    import('./config.js'),
    import('../db/sqlite-store.js'),
    import('./local/customers.js'),
  ]);
  const config = loadConfig();
  const store = SqliteStore.open(config.dbPath);
  try {
    const c = await createCustomer(store, { name: name ?? 'customer', initialBalanceCredit: config.initialBalanceCredit });
    process.stdout.write(JSON.stringify({ customer_id: c.customer.id, accesskey: c.token }) + '\n');
    return 0;
  } finally {
    await store.close();
  }
}

async function tools(argv: string[]): Promise<number> {
  const { runToolsCommand } = await import('../tools/cli.js');
  return runToolsCommand(argv, {
    stdout: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    stderr: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
    // Only --ai reads the database, and only when it is asked for.
    loadAiToolNames: async (aiId: string) => {
      const [{ loadConfig }, { SqliteStore }] = await Promise.all([import('./config.js'), import('../db/sqlite-store.js')]);
      const config = loadConfig();
      const store = SqliteStore.open(config.dbPath);
      try {
        const ai = await store.ais.getById(aiId);
        if (!ai) throw new Error(`ai ${aiId} not found in ${config.dbPath}`);
        return (ai.tool_names as string[]) ?? [];
      } finally {
        await store.close();
      }
    },
  });
}

async function call(argv: string[]): Promise<number> {
  const { runCallCommand } = await import('./softphone/call-command.js');
  return runCallCommand(argv, { env: process.env, ...io });
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = { serve, mcp, customers, tools, call };

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && Object.hasOwn(COMMANDS, cmd)) return COMMANDS[cmd]!(rest);
  switch (cmd) {
    case '--version':
    case '-v':
      io.out(packageVersion());
      return 0;
    case 'help':
      // `voipbin-ai help call` = `voipbin-ai call --help`.
      if (rest[0] !== undefined && Object.hasOwn(COMMANDS, rest[0])) return COMMANDS[rest[0]]!(['--help']);
      if (rest[0] !== undefined) {
        io.err(`unknown command: ${rest[0]}\n\n${HELP}`);
        return 2;
      }
      io.out(HELP);
      return 0;
    case undefined:
    case '--help':
    case '-h':
      io.out(HELP);
      return 0;
    default:
      io.err(`unknown command: ${cmd}\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // By name, not instanceof: config.js is loaded lazily and may not be loaded at all here.
    if (err instanceof Error && err.name === 'ConfigError') process.stderr.write(`voipbin-ai: configuration error: ${err.message}\n`);
    else process.stderr.write(`voipbin-ai: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
