/**
 * What an HTTP fake of a provider records of each request it gets, and the one reader that
 * records it: the method, path, headers and parsed JSON body, and whether the client went away
 * before the response ended (an abort or a timeout on the adapter's side).
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

export interface RecordedHttpRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: any;
  status?: number;
  /** The client went away before the response ended (abort, timeout). */
  closedEarly: boolean;
}

/** Reads the request's body and returns its record (pushed to `requests`, updated when the client goes away). */
export async function recordRequest(req: IncomingMessage, res: ServerResponse, requests: RecordedHttpRequest[]): Promise<RecordedHttpRequest> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  let body: any;
  try {
    body = JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    body = undefined;
  }
  const rec: RecordedHttpRequest = { method: req.method ?? '', path: (req.url ?? '').split('?')[0]!, headers: req.headers, body, closedEarly: false };
  requests.push(rec);
  res.on('close', () => {
    if (!res.writableFinished) rec.closedEarly = true;
  });
  return rec;
}
