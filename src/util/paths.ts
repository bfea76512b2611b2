import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * The voipbin-ai package's root folder (where its package.json is), from source (tsx) and from
 * the build output (dist/) alike. Defaults such as the database path hang off it, so `serve`
 * and an MCP client's `voipbin-ai mcp` share one database whatever their working directories.
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'voipbin-ai') {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('voipbin-ai package root not found');
    dir = up;
  }
}
