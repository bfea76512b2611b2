/**
 * Cursor pages of VoIPBIN list endpoints: `GET /things?page_size=&page_token=` answers
 * `{result, next_page_token}`, newest first, where the token is the last item's `tm_create`.
 */
import type { CallOptions, Query, VoipbinClient } from './client.js';
import type { ListEnvelope } from './types.js';

/**
 * One page of a list endpoint. `for await (const item of page)` walks every item of this page
 * and of all the following ones, fetching them lazily.
 */
export class Page<T> implements AsyncIterable<T> {
  /** Items of this page (empty when the server sent `null`). */
  readonly result: T[];
  /** Cursor of the next page; empty or missing on the last page. */
  readonly next_page_token: string | undefined;

  readonly #client: VoipbinClient;
  readonly #path: string;
  readonly #query: Query;
  readonly #options: CallOptions;

  constructor(client: VoipbinClient, path: string, query: Query, options: CallOptions, body: unknown) {
    const env = (typeof body === 'object' && body !== null ? body : {}) as Partial<ListEnvelope<T>>;
    this.result = Array.isArray(env.result) ? env.result : [];
    this.next_page_token =
      typeof env.next_page_token === 'string' && env.next_page_token !== '' ? env.next_page_token : undefined;
    this.#client = client;
    this.#path = path;
    this.#query = query;
    this.#options = options;
  }

  /**
   * True when another page may follow: the server sent a token, this page is not empty, it is
   * full when a `page_size` was asked for, and the token moved (guards against a server that
   * repeats the same cursor).
   */
  hasNextPage(): boolean {
    if (!this.next_page_token || this.result.length === 0) return false;
    const pageSize = Number(this.#query.page_size);
    if (Number.isFinite(pageSize) && pageSize > 0 && this.result.length < pageSize) return false;
    return this.next_page_token !== this.#query.page_token;
  }

  /** Fetches the next page with the same query and call options. Throws when there is none. */
  async getNextPage(): Promise<Page<T>> {
    if (!this.hasNextPage()) throw new Error('No next page: check hasNextPage() first.');
    return this.#client.list<T>(this.#path, { ...this.#query, page_token: this.next_page_token }, this.#options);
  }

  /** Yields this page and every following page. */
  async *iterPages(): AsyncGenerator<Page<T>, void, undefined> {
    let page: Page<T> = this;
    yield page;
    while (page.hasNextPage()) {
      page = await page.getNextPage();
      yield page;
    }
  }

  /** Yields every item of this page and of all following pages. */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.iterPages()) {
      yield* page.result;
    }
  }
}
