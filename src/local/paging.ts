import { invalidArgument } from '../api/errors.js';
import { isTimestamp } from '../util/time.js';
import type { ListOptions, StorePage } from '../../db/store.js';

/** VoIPBIN's default page size. */
export const DEFAULT_PAGE_SIZE = 10;
export const MAX_PAGE_SIZE = 100;

/** Parses `page_size` (1..100) and `page_token` (a `tm_create`) from a query string. */
export function parsePaging(query: Record<string, unknown>): Pick<ListOptions, 'pageSize' | 'pageToken'> {
  let pageSize = DEFAULT_PAGE_SIZE;
  if (query.page_size !== undefined && query.page_size !== '') {
    const n = Number(query.page_size);
    if (!Number.isInteger(n) || n < 1 || n > MAX_PAGE_SIZE) {
      throw invalidArgument(`page_size must be an integer from 1 to ${MAX_PAGE_SIZE}`, 'INVALID_REQUEST_PARAMETER');
    }
    pageSize = n;
  }
  const token = query.page_token;
  if (token !== undefined && token !== '') {
    if (typeof token !== 'string' || !isTimestamp(token)) {
      throw invalidArgument(
        'page_token must be the next_page_token of a previous response (a timestamp like 2026-01-02T03:04:05.000000Z)',
        'INVALID_REQUEST_PARAMETER',
      );
    }
    return { pageSize, pageToken: token };
  }
  return { pageSize };
}

/** The VoIPBIN list envelope. */
export function listEnvelope<T>(page: StorePage<T>, map: (item: T) => unknown = (x) => x) {
  return { result: page.items.map(map), next_page_token: page.nextPageToken };
}
