/**
 * Typed resource namespaces of {@link VoipbinClient} (`client.ais.create(...)`, ...).
 * Bodies are sent exactly as given: no client-side defaults are invented.
 */
import { registerSecret } from '../util/logger.js';
import type { CallOptions, VoipbinClient } from './client.js';
import type { Page } from './pagination.js';
import type {
  AICallListParams,
  AICreateParams,
  AIManagerAI,
  AIManagerAIcall,
  AIManagerMessage,
  AIManagerSummary,
  AIMessageCreateParams,
  AISummaryCreateParams,
  AIUpdateParams,
  BillingManagerAccount,
  CallCreateParams,
  CallCreateResult,
  CallManagerCall,
  CallManagerGroupcall,
  CustomerManagerAccesskey,
  CustomerManagerCustomer,
  EmailManagerEmail,
  EmailSendParams,
  FlowCreateParams,
  FlowManagerActiveflow,
  FlowManagerFlow,
  FlowUpdateParams,
  ListParams,
  MessageManagerMessage,
  MessageSendParams,
  NumberCreateParams,
  NumberManagerNumber,
  NumberUpdateParams,
} from './types.js';

/** One URL path segment from a resource id. */
function seg(id: string): string {
  if (typeof id !== 'string' || id === '') throw new TypeError('resource id must be a non-empty string');
  return encodeURIComponent(id);
}

abstract class Resource {
  // A private field, so serialising or inspecting a client does not walk back into it.
  readonly #client: VoipbinClient;
  constructor(client: VoipbinClient) {
    this.#client = client;
  }
  protected get client(): VoipbinClient {
    return this.#client;
  }
}

/** `/ais`: AI configurations. `engine_key` is registered as a secret so no log line can show it. */
export class AIs extends Resource {
  /** `POST /ais`. */
  create(body: AICreateParams, options?: CallOptions): Promise<AIManagerAI> {
    registerSecret(body.engine_key);
    return this.client.post('/ais', { ...options, body });
  }
  /** `GET /ais`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<AIManagerAI>> {
    return this.client.list('/ais', { ...params }, options);
  }
  /** `GET /ais/{id}`. */
  get(id: string, options?: CallOptions): Promise<AIManagerAI> {
    return this.client.get(`/ais/${seg(id)}`, options);
  }
  /** `PUT /ais/{id}`; omitting `engine_key` keeps the stored key. */
  update(id: string, body: AIUpdateParams, options?: CallOptions): Promise<AIManagerAI> {
    registerSecret(body.engine_key);
    return this.client.put(`/ais/${seg(id)}`, { ...options, body });
  }
  /** `DELETE /ais/{id}`; returns the deleted AI. */
  delete(id: string, options?: CallOptions): Promise<AIManagerAI> {
    return this.client.delete(`/ais/${seg(id)}`, options);
  }
}

/** `/aicalls`: AI sessions. */
export class AICalls extends Resource {
  /** `GET /aicalls` (`reference_id`: only the AI calls of that call, see {@link AICallListParams}). */
  list(params: AICallListParams = {}, options?: CallOptions): Promise<Page<AIManagerAIcall>> {
    return this.client.list('/aicalls', { ...params }, options);
  }
  /** `GET /aicalls/{id}`. */
  get(id: string, options?: CallOptions): Promise<AIManagerAIcall> {
    return this.client.get(`/aicalls/${seg(id)}`, options);
  }
  /** `DELETE /aicalls/{id}`. */
  delete(id: string, options?: CallOptions): Promise<AIManagerAIcall> {
    return this.client.delete(`/aicalls/${seg(id)}`, options);
  }
  /** `POST /aicalls/{id}/terminate`: ends a running AI session. */
  terminate(id: string, options?: CallOptions): Promise<AIManagerAIcall> {
    return this.client.post(`/aicalls/${seg(id)}/terminate`, options);
  }
}

/** `/aimessages`: aicall transcripts. */
export class AIMessages extends Resource {
  /** `GET /aimessages?aicall_id=`. */
  list(aicallId: string, params: ListParams = {}, options?: CallOptions): Promise<Page<AIManagerMessage>> {
    if (typeof aicallId !== 'string' || aicallId === '') throw new TypeError('aicallId must be a non-empty string');
    return this.client.list('/aimessages', { ...params, aicall_id: aicallId }, options);
  }
  /** `GET /aimessages/{id}`. */
  get(id: string, options?: CallOptions): Promise<AIManagerMessage> {
    return this.client.get(`/aimessages/${seg(id)}`, options);
  }
  /** `POST /aimessages`: adds a message to a running aicall. */
  create(body: AIMessageCreateParams, options?: CallOptions): Promise<AIManagerMessage> {
    return this.client.post('/aimessages', { ...options, body });
  }
}

/** `/aisummaries`. */
export class AISummaries extends Resource {
  /** `POST /aisummaries`. */
  create(body: AISummaryCreateParams, options?: CallOptions): Promise<AIManagerSummary> {
    return this.client.post('/aisummaries', { ...options, body });
  }
  /** `GET /aisummaries`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<AIManagerSummary>> {
    return this.client.list('/aisummaries', { ...params }, options);
  }
  /** `GET /aisummaries/{id}`. */
  get(id: string, options?: CallOptions): Promise<AIManagerSummary> {
    return this.client.get(`/aisummaries/${seg(id)}`, options);
  }
  /** `DELETE /aisummaries/{id}`. */
  delete(id: string, options?: CallOptions): Promise<AIManagerSummary> {
    return this.client.delete(`/aisummaries/${seg(id)}`, options);
  }
}

/** `/calls`. */
export class Calls extends Resource {
  /**
   * `POST /calls`: places outbound calls. Retried like every request on 408/429/5xx; pass
   * `{ maxRetries: 0 }` when a duplicate call must be impossible.
   */
  async create(body: CallCreateParams, options?: CallOptions): Promise<CallCreateResult> {
    const res = await this.client.post<Partial<CallCreateResult> | undefined>('/calls', { ...options, body });
    return {
      calls: Array.isArray(res?.calls) ? res.calls : ([] as CallManagerCall[]),
      groupcalls: Array.isArray(res?.groupcalls) ? res.groupcalls : ([] as CallManagerGroupcall[]),
    };
  }
  /** `GET /calls`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<CallManagerCall>> {
    return this.client.list('/calls', { ...params }, options);
  }
  /** `GET /calls/{id}`. */
  get(id: string, options?: CallOptions): Promise<CallManagerCall> {
    return this.client.get(`/calls/${seg(id)}`, options);
  }
  /** `POST /calls/{id}/hangup`. */
  hangup(id: string, options?: CallOptions): Promise<CallManagerCall> {
    return this.client.post(`/calls/${seg(id)}/hangup`, options);
  }
}

/** `/activeflows`: running flows. */
export class Activeflows extends Resource {
  /** `GET /activeflows`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<FlowManagerActiveflow>> {
    return this.client.list('/activeflows', { ...params }, options);
  }
  /** `GET /activeflows/{id}`. */
  get(id: string, options?: CallOptions): Promise<FlowManagerActiveflow> {
    return this.client.get(`/activeflows/${seg(id)}`, options);
  }
  /** `POST /activeflows/{id}/stop`. */
  stop(id: string, options?: CallOptions): Promise<FlowManagerActiveflow> {
    return this.client.post(`/activeflows/${seg(id)}/stop`, options);
  }
}

/** `/flows`. */
export class Flows extends Resource {
  /** `POST /flows`. */
  create(body: FlowCreateParams, options?: CallOptions): Promise<FlowManagerFlow> {
    return this.client.post('/flows', { ...options, body });
  }
  /** `GET /flows`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<FlowManagerFlow>> {
    return this.client.list('/flows', { ...params }, options);
  }
  /** `GET /flows/{id}`. */
  get(id: string, options?: CallOptions): Promise<FlowManagerFlow> {
    return this.client.get(`/flows/${seg(id)}`, options);
  }
  /** `PUT /flows/{id}`. */
  update(id: string, body: FlowUpdateParams, options?: CallOptions): Promise<FlowManagerFlow> {
    return this.client.put(`/flows/${seg(id)}`, { ...options, body });
  }
  /** `DELETE /flows/{id}`. */
  delete(id: string, options?: CallOptions): Promise<FlowManagerFlow> {
    return this.client.delete(`/flows/${seg(id)}`, options);
  }
}

/** `/messages`: SMS. */
export class Messages extends Resource {
  /** `POST /messages`: sends an SMS (chargeable; 402 when the balance is too low). */
  send(body: MessageSendParams, options?: CallOptions): Promise<MessageManagerMessage> {
    return this.client.post('/messages', { ...options, body });
  }
  /** `GET /messages`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<MessageManagerMessage>> {
    return this.client.list('/messages', { ...params }, options);
  }
  /** `GET /messages/{id}`. */
  get(id: string, options?: CallOptions): Promise<MessageManagerMessage> {
    return this.client.get(`/messages/${seg(id)}`, options);
  }
}

/** `/emails`. */
export class Emails extends Resource {
  /** `POST /emails`. */
  send(body: EmailSendParams, options?: CallOptions): Promise<EmailManagerEmail> {
    return this.client.post('/emails', { ...options, body });
  }
  /** `GET /emails`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<EmailManagerEmail>> {
    return this.client.list('/emails', { ...params }, options);
  }
  /** `GET /emails/{id}`. */
  get(id: string, options?: CallOptions): Promise<EmailManagerEmail> {
    return this.client.get(`/emails/${seg(id)}`, options);
  }
}

/** `/numbers`: phone numbers of the customer. */
export class Numbers extends Resource {
  /** `POST /numbers`: buys a number (chargeable). */
  create(body: NumberCreateParams, options?: CallOptions): Promise<NumberManagerNumber> {
    return this.client.post('/numbers', { ...options, body });
  }
  /** `GET /numbers`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<NumberManagerNumber>> {
    return this.client.list('/numbers', { ...params }, options);
  }
  /** `GET /numbers/{id}`. */
  get(id: string, options?: CallOptions): Promise<NumberManagerNumber> {
    return this.client.get(`/numbers/${seg(id)}`, options);
  }
  /** `PUT /numbers/{id}`. */
  update(id: string, body: NumberUpdateParams, options?: CallOptions): Promise<NumberManagerNumber> {
    return this.client.put(`/numbers/${seg(id)}`, { ...options, body });
  }
  /** `DELETE /numbers/{id}`. */
  delete(id: string, options?: CallOptions): Promise<NumberManagerNumber> {
    return this.client.delete(`/numbers/${seg(id)}`, options);
  }
}

/** `/customer`: the authenticated customer. */
export class CustomerResource extends Resource {
  /** `GET /customer`. */
  get(options?: CallOptions): Promise<CustomerManagerCustomer> {
    return this.client.get('/customer', options);
  }
}

/** `/accesskeys`. */
export class AccessKeys extends Resource {
  /** `GET /accesskeys`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<CustomerManagerAccesskey>> {
    return this.client.list('/accesskeys', { ...params }, options);
  }
  /** `GET /accesskeys/{id}`. */
  get(id: string, options?: CallOptions): Promise<CustomerManagerAccesskey> {
    return this.client.get(`/accesskeys/${seg(id)}`, options);
  }
}

/** `/billing_accounts`. */
export class BillingAccounts extends Resource {
  /** `GET /billing_accounts`. */
  list(params: ListParams = {}, options?: CallOptions): Promise<Page<BillingManagerAccount>> {
    return this.client.list('/billing_accounts', { ...params }, options);
  }
  /** `GET /billing_accounts/{id}`. */
  get(id: string, options?: CallOptions): Promise<BillingManagerAccount> {
    return this.client.get(`/billing_accounts/${seg(id)}`, options);
  }
}
