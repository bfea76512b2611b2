/**
 * Helper of bench/gateway.ts (skipped by bench/run.ts): starts the real server (`startServer`) with
 * the OpenAI Realtime agent pointed at a loopback fake, and creates one AI (openai.gpt-realtime),
 * a flow answer → ai_talk → hangup and a number routed to it.
 *
 * Run as a child (`node --import tsx bench/_gateway-server.ts`, with an IPC channel) it starts
 * from the env (BENCH_FAKE_URL, BENCH_FAKE_CA_PATH, BENCH_FAKE_KEY, BENCH_DIR), posts
 * `{ready, url, key, number}` and answers `{cmd:'cpu'}` with process.cpuUsage() and
 * `{cmd:'prof', ms}` with the top self-time functions of an inspector CPU profile of `ms`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.js';
import { startServer } from '../src/server.js';
import type { RunningServer } from '../src/server.js';
import type { SessionObserverFactory } from '../src/local/engine/engine.js';
import { createLogger } from '../src/util/logger.js';
import { AgentRegistry } from '../streams/agents/registry.js';
import { isOpenAIRealtimeConfig, openAIRealtimeAgent } from '../streams/agents/openai-realtime/agent.js';
import { childIpc } from './_child.js';

export interface BenchGateway {
  server: RunningServer;
  url: string;
  key: string;
  number: string;
  close(): Promise<void>;
}

/** `sessionObserver`: also observes each AI conversation (next to the server's metrics). */
export async function startGateway(o: { baseUrl: string; ca: string; apiKey: string; dir: string; sessionObserver?: SessionObserverFactory }): Promise<BenchGateway> {
  const key = `vbl_bench_${process.pid}_${Math.random().toString(36).slice(2)}`;
  const config = loadConfig({ HOST: '127.0.0.1', PORT: '0', VOIPBIN_AI_DB: join(o.dir, 'db.sqlite'), LOG_LEVEL: 'error', VOIPBIN_LOCAL_ACCESSKEY: key });
  const logger = createLogger('error');
  const agents = new AgentRegistry().register(isOpenAIRealtimeConfig, openAIRealtimeAgent({ baseUrl: o.baseUrl, ca: o.ca, logger }));
  const server = await startServer(config, { logger, engine: { agents, sessionObserver: o.sessionObserver } });
  const api = `${server.url}/v1.0`;
  const post = async (path: string, body: unknown): Promise<any> => {
    const res = await fetch(api + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`POST ${path}: ${res.status} ${text}`);
    return JSON.parse(text);
  };
  const ai = await post('/ais', {
    name: 'bench',
    engine_model: 'openai.gpt-realtime',
    engine_key: o.apiKey,
    init_prompt: 'You are the bench line.',
    tts_type: 'elevenlabs',
    stt_type: 'deepgram',
    tool_names: ['stop_service'],
  });
  const flow = await post('/flows', { name: 'bench', actions: [{ type: 'answer' }, { type: 'ai_talk', option: { ai_id: ai.id } }, { type: 'hangup' }] });
  const number = `+1555${String(process.pid % 1000).padStart(3, '0')}0001`;
  await post('/numbers', { number, call_flow_id: flow.id });
  return { server, url: server.url, key, number, close: () => server.close() };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.send) {
  const env = process.env;
  // BENCH_RECORD=1 (parts 1-2 of bench/gateway.ts): the clock's ticks and, per session in the
  // order they started, when the agent saw speech_started and when the playout was cleared, all on
  // CLOCK_MONOTONIC (process.hrtime), the clock the bench process stamps with too.
  const record = env.BENCH_RECORD === '1';
  const now = (): number => Number(process.hrtime.bigint()) / 1e6;
  const ticks: number[] = [];
  const sessions: { speech: number[]; cleared: number[] }[] = [];
  // The engine takes its observer at construction, so it is handed to startGateway.
  const sessionObserver: SessionObserverFactory | undefined = record
    ? () => {
        const rec = { speech: [] as number[], cleared: [] as number[] };
        sessions.push(rec);
        return (r) => {
          if (r.event.type === 'speech_started') rec.speech.push(now());
          else if (r.event.type === 'playout_cleared') rec.cleared.push(now());
        };
      }
    : undefined;
  const gw = await startGateway({
    baseUrl: env.BENCH_FAKE_URL!,
    ca: readFileSync(env.BENCH_FAKE_CA_PATH!, 'utf8'),
    apiKey: env.BENCH_FAKE_KEY!,
    dir: env.BENCH_DIR!,
    sessionObserver,
  });
  if (record) gw.server.engine.clock.add(() => ticks.push(now()));
  childIpc({ url: gw.url, key: gw.key, number: gw.number }, () => gw.close(), { records: () => ({ ticks, sessions }) });
}
