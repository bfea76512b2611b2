/**
 * Conformance helper: validates requests and responses against VoIPBIN's published OpenAPI spec
 * (`../shared/reference/voipbin-openapi/openapi.bundled.json`) with openapi-backend (Ajv 8).
 *
 * The spec is loaded once per test file (top-level await), then patched in memory:
 * - {@link normaliseToOpenApi30}: structural fixes so the document is valid OpenAPI 3.0 and
 *   usable by the validator. They do not change what is valid under OpenAPI 3.0 rules.
 * - {@link applyDocumentedRelaxations}: the only places where the checks differ from the spec,
 *   each one where the spec is narrower than VoIPBIN's real behaviour (or where the spec says
 *   something in prose that a validator needs as a keyword).
 *
 * Error responses (4xx/5xx) are always checked against VoIPBIN's error envelope
 * (`components.schemas.ErrorResponse`), also for statuses the operation does not list, and the
 * envelope's `status` must be the canonical status of the HTTP code.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { OpenAPIBackend, OpenAPIValidator, ValidationContext } from 'openapi-backend';
import type { AjvCustomizer, ValidationResult } from 'openapi-backend';
import { expect } from 'vitest';

/** Where CI finds the spec: the `shared/` checkout beside the repository. */
export const SPEC_PATH = path.resolve(process.cwd(), '../shared/reference/voipbin-openapi/openapi.bundled.json');

type Json = Record<string, unknown>;
// Ajv types through openapi-backend (ajv is its dependency, not ours).
type Ajv = ReturnType<AjvCustomizer>;
type ErrorObject = NonNullable<ValidationResult['errors']>[number];
type ValidateFunction = ReturnType<Ajv['compile']>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Visits every object of a JSON tree (parents before children). */
function walk(node: unknown, visit: (obj: Json) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit);
  } else if (isObject(node)) {
    visit(node);
    for (const value of Object.values(node)) walk(value, visit);
  }
}

function operations(spec: Json): { path: string; method: string; op: Json; pathItem: Json }[] {
  const out: { path: string; method: string; op: Json; pathItem: Json }[] = [];
  for (const [p, item] of Object.entries((spec.paths ?? {}) as Record<string, unknown>)) {
    if (!isObject(item)) continue;
    for (const method of HTTP_METHODS) {
      const op = item[method];
      if (isObject(op)) out.push({ path: p, method, op, pathItem: item });
    }
  }
  return out;
}

function schemas(spec: Json): Record<string, Json> {
  return ((spec.components as Json).schemas ?? {}) as Record<string, Json>;
}

const PARAMETER_KEYS = new Set([
  'name',
  'in',
  'description',
  'required',
  'deprecated',
  'allowEmptyValue',
  'style',
  'explode',
  'allowReserved',
  'schema',
  'example',
  'examples',
  'content',
]);

/**
 * Structural fixes to the bundled spec, none of which changes what OpenAPI 3.0 considers valid:
 *
 * 1. Keywords beside a `$ref` (143 `description`, 108 `example`, 2 `type`, 1 `nullable`). OpenAPI
 *    3.0 says they are ignored, but the validator (json-schema-ref-parser + Ajv) would apply them,
 *    and one is wrong: `POST /messages` declares `destinations.items` as `{type: string, $ref:
 *    CommonAddress}`, which would reject every real (object) destination. They are dropped; the
 *    one `nullable: true` (CallManagerGroupcall.source) keeps its intent as `anyOf [$ref, null]`.
 * 2. 33 inline response objects lack the required `description`: set to ''.
 * 3. A stray `encapsulation: null` key on a parameter of `GET /calls/{id}/media_stream`: dropped.
 * 4. 405 of 410 operations have no `operationId`, which openapi-backend keys its validators by:
 *    set to `METHOD /path`.
 */
export function normaliseToOpenApi30(spec: Json): void {
  walk(spec, (obj) => {
    if (typeof obj.$ref !== 'string' || Object.keys(obj).length === 1) return;
    const ref = obj.$ref;
    const nullable = obj.nullable === true;
    for (const key of Object.keys(obj)) delete obj[key];
    if (nullable) obj.anyOf = [{ $ref: ref }, { enum: [null] }];
    else obj.$ref = ref;
  });
  for (const { path: p, method, op, pathItem } of operations(spec)) {
    for (const response of Object.values((op.responses ?? {}) as Record<string, unknown>)) {
      if (isObject(response) && response.$ref === undefined && response.description === undefined) {
        response.description = '';
      }
    }
    for (const params of [op.parameters, pathItem.parameters]) {
      if (!Array.isArray(params)) continue;
      for (const param of params) {
        if (!isObject(param) || param.$ref !== undefined) continue;
        for (const key of Object.keys(param)) {
          if (!PARAMETER_KEYS.has(key) && !key.startsWith('x-')) delete param[key];
        }
      }
    }
    if (typeof op.operationId !== 'string' || op.operationId === '') op.operationId = `${method.toUpperCase()} ${p}`;
  }
}

/** Name of the request-side copy of `FlowManagerAction` made by {@link applyDocumentedRelaxations}. */
const FLOW_ACTION_REQUEST = 'FlowManagerActionRequest';

/**
 * THE documented relaxations: every place where these checks deliberately differ from the spec.
 * Each is where the spec is narrower than VoIPBIN's real behaviour (see the spec's README and
 * voipbin-ai-overview.txt), or where the spec states a rule in prose only.
 *
 * 1. `AIManagerAIEngineModel` is an enum of 11 models; the servers accept any
 *    `<provider>.<model>`: the enum becomes the pattern `^[a-z0-9-]+\..+`.
 * 2. `AIManagerAISTTType` lists cartesia, deepgram, elevenlabs; the servers also accept `google`.
 * 3. `engine_key` is "write-only; not returned in responses" in prose only: it gets
 *    `writeOnly: true`, and a write-only property present in a response is a validation error
 *    (our secrets contract; VoIPBIN's own server returns it anyway, per the spec's README).
 * 4. `FlowManagerAction` requires `id`, but VoIPBIN's docs create flows and calls with actions that
 *    have no `id` (the server assigns it). Request bodies get a copy without `id` in `required`;
 *    responses keep the original, so every returned action must still have an `id`.
 * 5. The seed's `ai` action type is missing from `FlowManagerActionType`.
 * 6. `PUT /ais/{id}` may omit fields (omitted ones, `engine_key` above all, keep their values).
 * 7. `AIManagerSummaryStatus` is "", progressing, done: a summary that can never be written (no
 *    summary LLM configured, the provider failed, sources unavailable) would stay `progressing`
 *    for ever. The local VoIPBIN ends it `failed` with a readable `failure_reason` instead, so the
 *    enum also accepts `failed` (and `failure_reason`, an extra string property, is allowed as
 *    the schema has no `additionalProperties: false`).
 */
export function applyDocumentedRelaxations(spec: Json): void {
  const s = schemas(spec);

  // 1. engine_model: any <provider>.<model>.
  const engineModel = s.AIManagerAIEngineModel;
  delete engineModel.enum;
  delete engineModel['x-enum-varnames'];
  engineModel.pattern = '^[a-z0-9-]+\\..+';

  // 2. stt_type: google too.
  const sttType = s.AIManagerAISTTType;
  (sttType.enum as string[]).push('google');
  delete sttType['x-enum-varnames'];

  // 3. engine_key is write-only.
  ((s.AIManagerAI.properties as Json).engine_key as Json).writeOnly = true;

  // 4. Request bodies may omit FlowManagerAction.id.
  const action = s.FlowManagerAction;
  s[FLOW_ACTION_REQUEST] = {
    ...action,
    required: (action.required as string[]).filter((name) => name !== 'id'),
  };
  // 5. The seed's `ai` action type (voipbin-ai-overview.txt's examples) is missing from the enum.
  const actionType = s.FlowManagerActionType;
  (actionType.enum as string[]).push('ai');
  delete actionType['x-enum-varnames'];

  // 6. PUT /ais/{id} may omit fields: omitted ones keep their stored values (engine_key above
  // all: an update without it keeps the stored key), which is what VoIPBIN's own docs promise.
  const putAi = (spec.paths as Json)['/ais/{id}'] as Json;
  walk(putAi.put as Json, (obj) => {
    if (Array.isArray(obj.required) && (obj.required as string[]).includes('engine_key')) delete obj.required;
  });

  // 7. A summary that cannot be written ends `failed` (with `failure_reason`).
  const summaryStatus = s.AIManagerSummaryStatus;
  (summaryStatus.enum as string[]).push('failed');
  delete summaryStatus['x-enum-varnames'];

  const actionRef = '#/components/schemas/FlowManagerAction';
  for (const { op } of operations(spec)) {
    if (!isObject(op.requestBody)) continue;
    walk(op.requestBody, (obj) => {
      if (obj.$ref === actionRef) obj.$ref = `#/components/schemas/${FLOW_ACTION_REQUEST}`;
    });
  }
}

/** Formats the spec uses. uuid and date-time are checked; the rest are accepted as they come. */
function addFormats(ajv: Ajv): void {
  ajv.addFormat('uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i);
  ajv.addFormat(
    'date-time',
    /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$/i,
  );
  for (const name of ['email', 'uri', 'ipv4', 'uint64', 'int']) ajv.addFormat(name, true);
}

/** In responses, a property marked `writeOnly: true` must be absent. */
function forbidWriteOnly(ajv: Ajv): void {
  ajv.removeKeyword('writeOnly');
  ajv.addKeyword({ keyword: 'writeOnly', schemaType: 'boolean', validate: (writeOnly: boolean) => !writeOnly });
}

/** The spec, normalised and relaxed (a fresh copy per call). */
export function loadVoipbinSpec(): Json {
  let text: string;
  try {
    text = readFileSync(SPEC_PATH, 'utf8');
  } catch (err) {
    throw new Error(
      `VoIPBIN OpenAPI spec not found at ${SPEC_PATH}: run the tests from the repository root, with shared/ checked out beside it`,
      { cause: err },
    );
  }
  const spec = JSON.parse(text) as Json;
  normaliseToOpenApi30(spec);
  applyDocumentedRelaxations(spec);
  return spec;
}

/** Parses and dereferences the spec (json-schema-ref-parser), validates it as OpenAPI 3.0 and builds the router. */
async function createApi(): Promise<OpenAPIBackend> {
  const api = new OpenAPIBackend({
    // The typed Document of openapi-types is stricter than JSON; init() checks the document.
    definition: loadVoipbinSpec() as never,
    apiRoot: '/',
    strict: true, // an invalid document fails loudly instead of warning
    validate: false, // validators are built lazily below: precompiling all 410 operations takes ~20 s
  });
  await api.init();
  return api;
}

const api = await createApi();

/** Ajv validators, compiled per operation on first use. */
const validator = new OpenAPIValidator({
  definition: api.definition,
  router: api.router,
  lazyCompileValidators: true,
  coerceTypes: true, // query and path values arrive as strings
  ajvOpts: { allErrors: true },
  customizeAjv: (ajv, _opts, context) => {
    addFormats(ajv);
    if (context === ValidationContext.Response) forbidWriteOnly(ajv);
    return ajv;
  },
});

/** Canonical status(es) of the error envelope for each HTTP code (voipbin-docs restful_api_errors). */
const ENVELOPE_STATUS: Record<number, readonly string[]> = {
  400: ['INVALID_ARGUMENT'],
  401: ['UNAUTHENTICATED'],
  402: ['PAYMENT_REQUIRED'],
  403: ['PERMISSION_DENIED'],
  404: ['NOT_FOUND'],
  409: ['ALREADY_EXISTS', 'FAILED_PRECONDITION'],
  413: ['INVALID_ARGUMENT'],
  429: ['RESOURCE_EXHAUSTED'],
  500: ['INTERNAL'],
  503: ['UNAVAILABLE'],
};

/** The minimal envelope, used only if the spec ever stops declaring `ErrorResponse`. */
const FALLBACK_ERROR_ENVELOPE = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['status', 'reason', 'message', 'request_id'],
      properties: {
        status: { type: 'string' },
        reason: { type: 'string' },
        message: { type: 'string' },
        request_id: { type: 'string' },
        details: { type: 'array', items: { type: 'object' } },
      },
    },
  },
};

const validateErrorEnvelope: ValidateFunction = (() => {
  const ajv = validator.getAjv(ValidationContext.Response);
  const dereferenced = schemas(api.definition as unknown as Json).ErrorResponse;
  return ajv.compile(dereferenced ?? FALLBACK_ERROR_ENVELOPE);
})();

interface Target {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
}

/** Accepts `/ais/{id}`, `/ais/123`, `/v1.0/ais?x=1` or a full URL. */
function parseTarget(method: string, pathOrUrl: string, query?: Record<string, unknown>): Target {
  const url = new URL(pathOrUrl, 'http://voipbin.invalid');
  let p = decodeURI(url.pathname).replace(/^\/v1\.0(?=\/|$)/, '');
  if (p === '') p = '/';
  const q: Record<string, string | string[]> = {};
  for (const [name, value] of url.searchParams) q[name] = value;
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    q[name] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return { method: method.toLowerCase(), path: p, query: q };
}

type Operation = NonNullable<ReturnType<OpenAPIBackend['router']['matchOperation']>>;

function matchOperation(t: Target): Operation | undefined {
  return api.router.matchOperation({ method: t.method, path: t.path, headers: {} });
}

function declaredResponse(op: Operation, statusCode: number): Json | undefined {
  const responses = (op.responses ?? {}) as Record<string, unknown>;
  const match = responses[String(statusCode)] ?? responses[`${Math.floor(statusCode / 100)}XX`] ?? responses.default;
  return isObject(match) ? match : undefined;
}

/** `requestBody.engine_model`, `response body.result[0].id`, ... */
function where(prefix: string, instancePath: string): string {
  const parts = instancePath
    .split('/')
    .filter(Boolean)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let out = prefix;
  for (const part of parts) out += /^\d+$/.test(part) ? `[${part}]` : out === '' ? part : `.${part}`;
  return out === '' ? 'request' : out;
}

function describe(prefix: string, errors: readonly ErrorObject[] | null | undefined): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    const at = where(prefix, e.instancePath);
    const params = e.params as Record<string, unknown>;
    let text: string;
    if (e.keyword === 'writeOnly') text = 'is write-only and must not appear in a response';
    else if (e.keyword === 'enum') text = `${e.message}: ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    else if (e.keyword === 'additionalProperties') text = `${e.message}: ${String(params.additionalProperty)}`;
    else text = e.message ?? e.keyword;
    const line = `${at} ${text}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}

function validateEnvelope(statusCode: number, body: unknown): string[] {
  const errors: string[] = [];
  if (!validateErrorEnvelope(body)) errors.push(...describe('response body', validateErrorEnvelope.errors));
  const allowed = ENVELOPE_STATUS[statusCode];
  const status = isObject(body) && isObject(body.error) ? body.error.status : undefined;
  if (allowed && typeof status === 'string' && !allowed.includes(status)) {
    errors.push(`response body.error.status is ${JSON.stringify(status)} but HTTP ${statusCode} means ${allowed.join(' or ')}`);
  }
  return errors;
}

/**
 * Validates a response body against the spec. Returns readable errors; empty means valid.
 * 4xx/5xx bodies are checked against the error envelope whether or not the operation lists the status.
 */
export function validateResponse(method: string, pathTemplateOrConcretePath: string, statusCode: number, body: unknown): string[] {
  const t = parseTarget(method, pathTemplateOrConcretePath);
  const op = matchOperation(t);
  if (!op) return [`no operation ${t.method.toUpperCase()} ${t.path} in the VoIPBIN spec`];
  if (statusCode >= 400) return validateEnvelope(statusCode, body);
  const declared = declaredResponse(op, statusCode);
  if (!declared) {
    const listed = Object.keys((op.responses ?? {}) as Json).join(', ');
    return [`status ${statusCode} is not declared for ${op.operationId} (declared: ${listed})`];
  }
  const result = validator.validateResponse(body, op, statusCode);
  return describe('response body', result.errors);
}

/** Parts of a request to validate. */
export interface RequestParts {
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Validates a request (path parameters, query and JSON body). Returns readable errors; empty means valid. */
export function validateRequest(method: string, pathOrUrl: string, parts: RequestParts = {}): string[] {
  const t = parseTarget(method, pathOrUrl, parts.query);
  const op = matchOperation(t);
  if (!op) return [`no operation ${t.method.toUpperCase()} ${t.path} in the VoIPBIN spec`];
  const headers: Record<string, string> = { ...(parts.headers ?? {}) };
  if (parts.body !== undefined) headers['content-type'] = 'application/json';
  const result = validator.validateRequest(
    { method: t.method, path: t.path, query: t.query, headers, body: parts.body as never },
    op,
  );
  return describe('', result.errors);
}

/** Vitest assertion: the response conforms to the spec (see {@link validateResponse}). */
export function expectConformsResponse(method: string, pathTemplateOrConcretePath: string, statusCode: number, body: unknown): void {
  const errors = validateResponse(method, pathTemplateOrConcretePath, statusCode, body);
  expect(errors, `${method.toUpperCase()} ${pathTemplateOrConcretePath} ${statusCode} response conforms to the VoIPBIN spec`).toEqual([]);
}

/** Vitest assertion: the request conforms to the spec (see {@link validateRequest}). */
export function expectConformsRequest(method: string, pathOrUrl: string, parts: RequestParts = {}): void {
  const errors = validateRequest(method, pathOrUrl, parts);
  expect(errors, `${method.toUpperCase()} ${pathOrUrl} request conforms to the VoIPBIN spec`).toEqual([]);
}
