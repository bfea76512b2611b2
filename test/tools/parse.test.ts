import { describe, expect, it } from 'vitest';
import { formatPath, parseToolArguments } from '../../tools/parse.js';
import { TOOL_NAMES } from '../../tools/types.js';

const UUID = '3f2b6c1e-8a4d-4c2e-9b7a-1d2e3f4a5b6c';

function fail(result: ReturnType<typeof parseToolArguments>): string {
  if (result.ok) throw new Error(`expected a failure, got ${JSON.stringify(result.args)}`);
  return result.message;
}

describe('parseToolArguments: input forms', () => {
  it('accepts a JSON string (as LLMs send arguments)', () => {
    const r = parseToolArguments('connect_call', '{"destinations":[{"type":"extension","target":"sales"}]}');
    expect(r).toEqual({
      ok: true,
      runLlm: false,
      args: { run_llm: false, destinations: [{ type: 'extension', target: 'sales' }] },
    });
  });

  it('accepts an object', () => {
    const r = parseToolArguments('get_aicall_messages', { aicall_id: UUID, run_llm: true });
    expect(r).toEqual({ ok: true, runLlm: true, args: { run_llm: true, aicall_id: UUID } });
  });

  it('treats "", whitespace, null and undefined as no arguments', () => {
    for (const raw of ['', '  ', null, undefined]) {
      expect(parseToolArguments('stop_service', raw)).toEqual({ ok: true, args: {}, runLlm: false });
      expect(parseToolArguments('get_variables', raw)).toEqual({ ok: true, args: { run_llm: false }, runLlm: false });
    }
  });

  it('reports bad JSON without throwing', () => {
    const m = fail(parseToolArguments('send_email', '{"destinations": [}'));
    expect(m).toMatch(/^invalid arguments for send_email: not valid JSON \(.+\); send a JSON object$/);
  });

  it('rejects JSON that is not an object', () => {
    expect(fail(parseToolArguments('stop_flow', '[1,2]'))).toBe('invalid arguments for stop_flow: expected a JSON object of arguments, got an array');
    expect(fail(parseToolArguments('stop_flow', '"hi"'))).toBe('invalid arguments for stop_flow: expected a JSON object of arguments, got a string');
    expect(fail(parseToolArguments('stop_flow', 42))).toBe('invalid arguments for stop_flow: expected a JSON object of arguments, got a number');
  });

  it('names the tools when the tool is unknown', () => {
    expect(fail(parseToolArguments('transfer', '{}'))).toBe(`unknown tool "transfer"; the tools are ${TOOL_NAMES.join(', ')}`);
  });

  it('never throws, whatever it is given', () => {
    const weird: unknown[] = [Symbol('x'), () => 1, 10n, new Date(0), Object.create(null), { toJSON: () => { throw new Error('x'); } }];
    for (const name of [...TOOL_NAMES, 'nope']) {
      for (const raw of weird) expect(() => parseToolArguments(name, raw)).not.toThrow();
    }
  });

  it('ignores unknown fields and does not mutate its input', () => {
    const input = { destinations: [{ type: 'extension', target: 'sales', foo: 1 }], bar: 2, source: null };
    const copy = structuredClone(input);
    const r = parseToolArguments('connect_call', input);
    expect(r.ok && r.args).toEqual({ run_llm: false, destinations: [{ type: 'extension', target: 'sales' }] });
    expect(input).toEqual(copy);
  });
});

describe('parseToolArguments: messages for the model', () => {
  it('missing required fields', () => {
    expect(fail(parseToolArguments('connect_call', {}))).toBe(
      'invalid arguments for connect_call: destinations: required, a list of destinations like [{"type":"extension","target":"sales"}]',
    );
    expect(fail(parseToolArguments('send_message', { destinations: [{ type: 'tel' }] }))).toBe(
      'invalid arguments for send_message: destinations[0].target: required, an E.164 phone number like +15551234567; text: required, the SMS message content (a string)',
    );
    expect(fail(parseToolArguments('send_email', '{}'))).toBe(
      'invalid arguments for send_email: destinations: required, a list of recipients like [{"type":"email","target":"jane@example.com"}]; ' +
        'subject: required, the email subject line (a string); content: required, the email body (a string)',
    );
    expect(fail(parseToolArguments('set_variables', {}))).toBe(
      'invalid arguments for set_variables: variables: required, an object of string values like {"customer_name":"John Smith"}',
    );
    expect(fail(parseToolArguments('get_aicall_messages', {}))).toMatch(/^invalid arguments for get_aicall_messages: aicall_id: required, the id of the AI call \(a UUID like /);
  });

  it('wrong types', () => {
    expect(fail(parseToolArguments('stop_media', { run_llm: 'yes' }))).toBe(
      'invalid arguments for stop_media: run_llm: expected a boolean (true or false), got the string "yes"',
    );
    expect(fail(parseToolArguments('connect_call', { destinations: { type: 'tel', target: '+15551234567' } }))).toBe(
      'invalid arguments for connect_call: destinations: expected a list of destinations like [{"type":"extension","target":"sales"}], got an object',
    );
    expect(fail(parseToolArguments('connect_call', { destinations: ['sales'] }))).toBe(
      'invalid arguments for connect_call: destinations[0]: expected an object like {"type":"extension","target":"sales"}, got the string "sales"',
    );
    expect(fail(parseToolArguments('send_email', { destinations: [{ type: 'email', target: 5 }], subject: 's', content: 'c' }))).toBe(
      'invalid arguments for send_email: destinations[0].target: expected an email address like jane@example.com, got the number 5',
    );
    expect(fail(parseToolArguments('set_variables', { variables: '{"a":"b"}' }))).toBe(
      'invalid arguments for set_variables: variables: expected an object of string values like {"customer_name":"John Smith"}, got the string "{\\"a\\":\\"b\\"}"',
    );
  });

  it('enum values', () => {
    expect(fail(parseToolArguments('send_email', { destinations: [{ type: 'sms', target: 'a@b.co' }], subject: 's', content: 'c' }))).toBe(
      'invalid arguments for send_email: destinations[0].type: expected "email", got the string "sms"',
    );
    expect(fail(parseToolArguments('send_message', { destinations: [{ type: 'email', target: '+15551234567' }], text: 'hi' }))).toBe(
      'invalid arguments for send_message: destinations[0].type: expected "tel", got the string "email"',
    );
    expect(fail(parseToolArguments('connect_call', { destinations: [{ type: 'phone', target: '+15551234567' }] }))).toBe(
      'invalid arguments for connect_call: destinations[0].type: expected one of agent, conference, extension, line, sip, tel, got "phone"',
    );
    expect(fail(parseToolArguments('connect_call', { source: { type: 'line', target: 'x' }, destinations: [{ type: 'line', target: 'x' }] }))).toBe(
      'invalid arguments for connect_call: source.type: expected one of agent, conference, extension, sip, tel, got "line"',
    );
  });

  it('empty strings and lists', () => {
    expect(fail(parseToolArguments('connect_call', { destinations: [] }))).toBe(
      'invalid arguments for connect_call: destinations: must not be empty, a list of destinations like [{"type":"extension","target":"sales"}]',
    );
    expect(fail(parseToolArguments('send_message', { destinations: [{ type: 'tel', target: '+15551234567' }], text: '   ' }))).toBe(
      'invalid arguments for send_message: text: must not be empty, the SMS message content (a string)',
    );
  });

  it('limits the list of problems', () => {
    const m = fail(parseToolArguments('send_email', {
      destinations: [1, 2, 3, 4, 5, 6, 7],
      subject: 1,
      content: 2,
    }));
    expect(m).toMatch(/; and 4 more$/);
  });

  it('formats paths', () => {
    expect(formatPath([])).toBe('arguments');
    expect(formatPath(['destinations', 0, 'target'])).toBe('destinations[0].target');
    expect(formatPath(['variables', 'customer name'])).toBe('variables["customer name"]');
  });
});

describe('parseToolArguments: run_llm', () => {
  it('defaults to false and follows the model', () => {
    const base = { destinations: [{ type: 'extension', target: 'sales' }] };
    expect(parseToolArguments('connect_call', base)).toMatchObject({ ok: true, runLlm: false });
    expect(parseToolArguments('connect_call', { ...base, run_llm: true })).toMatchObject({ ok: true, runLlm: true });
    expect(parseToolArguments('connect_call', { ...base, run_llm: false })).toMatchObject({ ok: true, runLlm: false });
    expect(parseToolArguments('connect_call', { ...base, run_llm: null })).toMatchObject({ ok: true, runLlm: false });
  });

  it('stop_service and stop_flow take no run_llm: an override is ignored', () => {
    expect(parseToolArguments('stop_service', { run_llm: true })).toEqual({ ok: true, args: {}, runLlm: false });
    expect(parseToolArguments('stop_flow', '{"run_llm":true}')).toEqual({ ok: true, args: {}, runLlm: false });
  });

  it.each(['stop_media', 'get_variables'] as const)('%s: run_llm true', (name) => {
    expect(parseToolArguments(name, { run_llm: true })).toEqual({ ok: true, args: { run_llm: true }, runLlm: true });
  });
});

describe('parseToolArguments: normalization per tool', () => {
  it('send_message normalizes phone numbers to E.164', () => {
    const r = parseToolArguments('send_message', {
      source: { type: 'tel', target: '+1 (555) 000-0001' },
      destinations: [{ type: 'tel', target: '0044 20 7946 0958', target_name: 'Ann' }, { type: 'tel', target: '+1.555.123.4567' }],
      text: ' Your code is 1234 ',
    });
    expect(r).toEqual({
      ok: true,
      runLlm: false,
      args: {
        run_llm: false,
        source: { type: 'tel', target: '+15550000001' },
        destinations: [
          { type: 'tel', target: '+442079460958', target_name: 'Ann' },
          { type: 'tel', target: '+15551234567' },
        ],
        text: 'Your code is 1234',
      },
    });
  });

  it('send_message rejects numbers that are not E.164', () => {
    expect(fail(parseToolArguments('send_message', { destinations: [{ type: 'tel', target: '555-1234' }], text: 'hi' }))).toBe(
      "invalid arguments for send_message: destinations[0].target: expected an E.164 phone number like +15551234567 ('+', country code, number; 8 to 15 digits), got the string \"555-1234\"",
    );
    expect(fail(parseToolArguments('send_message', { source: { type: 'tel', target: '+0123' }, destinations: [{ type: 'tel', target: '+15551234567' }], text: 'hi' }))).toMatch(
      /^invalid arguments for send_message: source\.target: expected an E\.164 phone number/,
    );
  });

  it('connect_call normalizes tel targets and leaves others alone', () => {
    const r = parseToolArguments('connect_call', {
      source: { type: 'tel', target: '+1 555 000 0001' },
      destinations: [
        { type: 'tel', target: '00 1 555 123 4567' },
        { type: 'extension', target: ' sales ' },
        { type: 'sip', target: 'sip:bob@example.com' },
      ],
    });
    expect(r.ok && r.args).toEqual({
      run_llm: false,
      source: { type: 'tel', target: '+15550000001' },
      destinations: [
        { type: 'tel', target: '+15551234567' },
        { type: 'extension', target: 'sales' },
        { type: 'sip', target: 'sip:bob@example.com' },
      ],
    });
    expect(fail(parseToolArguments('connect_call', { destinations: [{ type: 'tel', target: '555-1234' }] }))).toBe(
      'invalid arguments for connect_call: destinations[0].target: type "tel" needs an E.164 phone number like +15551234567, got "555-1234"',
    );
  });

  it('send_email checks addresses and attachments', () => {
    const ok = parseToolArguments('send_email', {
      destinations: [{ type: 'email', target: ' jane@example.com ', target_name: 'Jane' }],
      subject: 'Your recording',
      content: 'Attached.',
      attachments: [{ reference_type: 'recording', reference_id: UUID.toUpperCase() }],
      run_llm: true,
    });
    expect(ok).toEqual({
      ok: true,
      runLlm: true,
      args: {
        run_llm: true,
        destinations: [{ type: 'email', target: 'jane@example.com', target_name: 'Jane' }],
        subject: 'Your recording',
        content: 'Attached.',
        attachments: [{ reference_type: 'recording', reference_id: UUID }],
      },
    });
    const base = { destinations: [{ type: 'email', target: 'jane@example.com' }], subject: 's', content: 'c' };
    expect(fail(parseToolArguments('send_email', { ...base, destinations: [{ type: 'email', target: 'jane at example' }] }))).toBe(
      'invalid arguments for send_email: destinations[0].target: expected an email address like jane@example.com',
    );
    expect(fail(parseToolArguments('send_email', { ...base, attachments: [{ reference_type: 'recording' }] }))).toBe(
      'invalid arguments for send_email: attachments[0].reference_id: required, the UUID of a recording',
    );
    expect(fail(parseToolArguments('send_email', { ...base, attachments: [{ reference_type: 'file', reference_id: UUID }] }))).toBe(
      'invalid arguments for send_email: attachments[0].reference_type: expected "recording", got the string "file"',
    );
    expect(parseToolArguments('send_email', { ...base, attachments: [{ reference_id: UUID }] })).toMatchObject({
      ok: true,
      args: { attachments: [{ reference_type: 'recording', reference_id: UUID }] },
    });
  });

  it('set_variables keeps strings and converts numbers and booleans', () => {
    const r = parseToolArguments('set_variables', '{"variables":{"customer_name":"John Smith","account_number":12345,"vip":true}}');
    expect(r).toEqual({
      ok: true,
      runLlm: false,
      args: { run_llm: false, variables: { customer_name: 'John Smith', account_number: '12345', vip: 'true' } },
    });
    expect(fail(parseToolArguments('set_variables', { variables: { a: { b: 1 } } }))).toBe(
      'invalid arguments for set_variables: variables.a: expected a string value (numbers and booleans are converted to strings), got an object',
    );
    expect(fail(parseToolArguments('set_variables', { variables: { a: null } }))).toBe(
      'invalid arguments for set_variables: variables.a: expected a string value (numbers and booleans are converted to strings), got null',
    );
    expect(fail(parseToolArguments('set_variables', { variables: { ' ': 'x' } }))).toBe(
      'invalid arguments for set_variables: variables[" "]: variable names must not be empty',
    );
  });

  it('get_aicall_messages needs a UUID', () => {
    expect(parseToolArguments('get_aicall_messages', { aicall_id: ` ${UUID.toUpperCase()} ` })).toMatchObject({ ok: true, args: { aicall_id: UUID } });
    expect(fail(parseToolArguments('get_aicall_messages', { aicall_id: '${voipbin.aicall.id}' }))).toBe(
      'invalid arguments for get_aicall_messages: aicall_id: expected the id of the AI call (a UUID like 3f2b6c1e-8a4d-4c2e-9b7a-1d2e3f4a5b6c)',
    );
  });
});
