/**
 * Helper of bench/gateway.ts: the IPC side of a measured child process (the gateway or the bare
 * relay). Posts `{ready, ...info}`; answers `{cmd:'cpu'}` with process.cpuUsage() (µs) and the
 * event-loop delay, `{cmd:'prof', ms}` with the top self-time functions of an inspector CPU
 * profile taken for `ms`, and `{cmd:'exit'}` by closing and exiting.
 */
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** `extra` answers more commands (`{cmd: name}` → `{id, ...extra[name]()}`). */
export function childIpc(info: Record<string, unknown>, close: () => Promise<void>, extra: Record<string, () => Record<string, unknown>> = {}): void {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  process.on('message', (m: { cmd: string; id: number; ms?: number }) => {
    void (async () => {
      if (m.cmd === 'cpu') {
        const c = process.cpuUsage();
        const io = Object.fromEntries(
          readFileSync('/proc/self/io', 'utf8').trim().split('\n').map((l) => l.split(': ')).map(([k, v]) => [k, Number(v)]),
        ) as Record<string, number>;
        const reply = { id: m.id, user: c.user, system: c.system, syscw: io.syscw ?? NaN, syscr: io.syscr ?? NaN, wchar: io.wchar ?? NaN, loopP99Ms: loop.percentile(99) / 1e6, loopMaxMs: loop.max / 1e6, rssMb: process.memoryUsage().rss / 2 ** 20 };
        loop.reset();
        process.send!(reply);
      } else if (m.cmd === 'prof') {
        const s = new Session();
        s.connect();
        await s.post('Profiler.enable');
        await s.post('Profiler.setSamplingInterval', { interval: 500 });
        await s.post('Profiler.start');
        await new Promise((r) => setTimeout(r, m.ms ?? 3000));
        const { profile } = (await s.post('Profiler.stop')) as unknown as { profile: { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[] } };
        s.disconnect();
        const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
        const total = profile.samples.length;
        const busy = profile.samples.filter((id) => !idle.has(id)).length;
        const byFn = new Map<string, number>();
        const byFile = new Map<string, number>();
        for (const n of profile.nodes) {
          const f = n.callFrame;
          const url = f.url.replace(`file://${process.cwd()}/`, '').replace(/^.*\/node_modules\//, '');
          const where = url ? (f.lineNumber > 0 ? `${url}:${f.lineNumber + 1}` : url) : '';
          const k = `${f.functionName || '(anonymous)'} ${where}`.trim();
          byFn.set(k, (byFn.get(k) ?? 0) + (n.hitCount ?? 0));
          if (f.functionName !== '(idle)') {
            const file = url ? (url.startsWith('node:') ? 'node: internals' : url.includes('/') ? url.split('/').slice(0, url.startsWith('src') || url.startsWith('streams') ? 3 : 1).join('/') : url) : `native: ${f.functionName || '(anonymous)'}`;
            byFile.set(file, (byFile.get(file) ?? 0) + (n.hitCount ?? 0));
          }
        }
        byFn.delete('(idle)');
        const top = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([fn, hits]) => ({ fn, pct: (100 * hits) / Math.max(1, busy) }));
        const files = [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([fn, hits]) => ({ fn, pct: (100 * hits) / Math.max(1, busy) }));
        process.send!({ id: m.id, top, files, samples: total, busyPct: (100 * busy) / Math.max(1, total) });
      } else if (extra[m.cmd]) {
        process.send!({ id: m.id, ...extra[m.cmd]!() });
      } else if (m.cmd === 'exit') {
        await close().catch(() => {});
        process.send!({ id: m.id }, () => process.exit(0));
      }
    })();
  });
  process.send!({ ready: true, ...info });
}
