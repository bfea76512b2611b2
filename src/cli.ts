#!/usr/bin/env node
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './server.js';
import { SqliteStore } from '../db/sqlite-store.js';
import { createCustomer } from './local/customers.js';
import { runToolsCommand } from '../tools/cli.js';
import { runMcpStdio } from './mcp/stdio.js';
import { MCP_PATH, registerMcpHttp } from './mcp/http.js';
import { runCallCommand } from './softphone/call-command.js';

const HELP = `voipbin-ai: phone-call AI voice agents on VoIPBIN

Usage:
  voipbin-ai serve                    local VoIPBIN API (+ MCP over HTTP) on HOST:PORT (default 127.0.0.1:8080)
  voipbin-ai mcp                      MCP server over stdio (for Claude Desktop, Claude Code, Cursor, VS Code)
  voipbin-ai customers create [name]  create a local customer; prints {"customer_id","accesskey"} as JSON
  voipbin-ai tools [--names a,b | --ai <ai_id>] [--format json-schema|openai|realtime|anthropic|gemini]
                                      print the AI tool functions as an agent will be offered them
  voipbin-ai call [--to N] [--as N] [--play in.wav] [--record out.wav]
                                      a command-line softphone for the local VoIPBIN (see voipbin-ai call --help)
  voipbin-ai help

Environment: see README.md (HOST, PORT, VOIPBIN_AI_DB, VOIPBIN_API_URL, VOIPBIN_ACCESSKEY, ...).
`;

async function serve(): Promise<number> {
  const config = loadConfig();
  // MCP over Streamable HTTP is served at /mcp of the same app.
  const server = await startServer(config, { extend: (app, ctx) => registerMcpHttp(app, ctx, config) });
    const out = process.stdout;
  out.write(`voipbin-ai: local VoIPBIN API at ${server.url}/v1.0 (database ${config.dbPath})\n`);
  out.write(`voipbin-ai: MCP (Streamable HTTP) at ${server.url}${MCP_PATH} (Authorization: Bearer <access key or MCP_HTTP_TOKEN>)\n`);
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

async function customers(args: string[]): Promise<number> {
  if (args[0] !== 'create') {
    process.stderr.write('usage: voipbin-ai customers create [name]\n');
    return 2;
  }
  const config = loadConfig();
  const store = SqliteStore.open(config.dbPath);
  try {
    const c = await createCustomer(store, { name: args[1] ?? 'customer', initialBalanceCredit: config.initialBalanceCredit });
    process.stdout.write(JSON.stringify({ customer_id: c.customer.id, accesskey: c.token }) + '\n');
    return 0;
  } finally {
    await store.close();
  }
}

async function tools(args: string[]): Promise<number> {
  return runToolsCommand(args, {
    stdout: (s) => process.stdout.write(s.endsWith('\n') ? s : s + '\n'),
    stderr: (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n'),
    loadAiToolNames: async (aiId: string) => {
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

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'serve':
      return serve();
    case 'customers':
      return customers(rest);
    case 'tools':
      return tools(rest);
    case 'mcp':
      return runMcpStdio();
    case 'call':
      return runCallCommand(rest, {
        env: process.env,
        out: (l) => process.stdout.write(l + '\n'),
        err: (l) => process.stderr.write(l + '\n'),
      });
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`unknown command: ${cmd}\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`voipbin-ai: configuration error: ${err.message}\n`);
    else process.stderr.write(`voipbin-ai: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
