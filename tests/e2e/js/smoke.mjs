// Smoke test of Pilothouse with the official `openai` npm package.
//
// Run by tests/e2e/test_js_sdk.py against a live server:
//   PILOTHOUSE_BASE_URL=http://127.0.0.1:<port>/v1 node smoke.mjs
//
// Every check runs even when an earlier one fails; a JSON summary goes to stdout and the
// exit code is 1 when any check failed (details on stderr).

import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { VERSION as SDK_VERSION } from 'openai/version';

const baseURL = process.env.PILOTHOUSE_BASE_URL;
if (!baseURL) {
  console.error('PILOTHOUSE_BASE_URL is not set (e.g. http://127.0.0.1:8080/v1)');
  process.exit(2);
}

// Any model name outside `upstream/*` and `azure/*` is served by the offline scripted model.
const MODEL = process.env.PILOTHOUSE_MODEL ?? 'gpt-4o-mini';

const apiKey = process.env.PILOTHOUSE_API_KEY ?? 'missing';
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });

const WEATHER_TOOL = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

/** The assistant text of a response object's output (what the SDK's `output_text` joins). */
function textOf(response) {
  return response.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content)
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text)
    .join('');
}

function assertUsage(usage, where) {
  assert.ok(usage, `${where}: usage is missing`);
  for (const key of ['input_tokens', 'output_tokens', 'total_tokens']) {
    assert.ok(Number.isInteger(usage[key]), `${where}: usage.${key} is not an integer`);
  }
  assert.ok(usage.input_tokens > 0, `${where}: usage.input_tokens is 0`);
  assert.ok(usage.output_tokens > 0, `${where}: usage.output_tokens is 0`);
  assert.equal(usage.total_tokens, usage.input_tokens + usage.output_tokens, `${where}: total`);
}

/** Checks the shape of a raw event stream; returns the concatenated text deltas. */
function assertCanonicalStream(events, where) {
  assert.ok(events.length >= 5, `${where}: only ${events.length} events`);
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created', `${where}: first event`);
  assert.equal(types[1], 'response.in_progress', `${where}: second event`);
  assert.equal(types.at(-1), 'response.completed', `${where}: last event`);
  for (const type of [
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
  ]) {
    assert.ok(types.includes(type), `${where}: no ${type} event in ${JSON.stringify(types)}`);
  }
  for (const [i, event] of events.entries()) {
    assert.ok(Number.isInteger(event.sequence_number), `${where}: event ${i} has no sequence`);
    if (i > 0) {
      assert.ok(
        event.sequence_number > events[i - 1].sequence_number,
        `${where}: sequence_number not strictly increasing at event ${i} ` +
          `(${events[i - 1].sequence_number} then ${event.sequence_number})`,
      );
    }
  }
  const created = events[0].response;
  assert.equal(created.object, 'response', `${where}: created.object`);
  assert.match(created.id, /^resp_/, `${where}: created.id`);
  assert.equal(created.status, 'in_progress', `${where}: created.status`);
  const completed = events.at(-1).response;
  assert.equal(completed.id, created.id, `${where}: completed.id differs from created.id`);
  assert.equal(completed.status, 'completed', `${where}: completed.status`);
  assertUsage(completed.usage, `${where}: response.completed`);
  const deltas = events
    .filter((e) => e.type === 'response.output_text.delta')
    .map((e) => e.delta)
    .join('');
  const done = events.find((e) => e.type === 'response.output_text.done');
  assert.equal(done.text, deltas, `${where}: output_text.done differs from the deltas`);
  assert.equal(textOf(completed), deltas, `${where}: final text differs from the deltas`);
  return { id: created.id, text: deltas, completed };
}

// -- the checks ----------------------------------------------------------------------------

const state = {};

async function createNonStreaming() {
  const response = await client.responses.create({ model: MODEL, input: 'Say hello' });
  assert.equal(response.object, 'response');
  assert.match(response.id, /^resp_/);
  assert.equal(response.status, 'completed');
  assert.equal(response.model, MODEL);
  assert.equal(response.output_text, 'You said: Say hello');
  assertUsage(response.usage, 'create');
  state.plain = response;
  return { id: response.id, output_text: response.output_text, usage: response.usage };
}

async function createStreaming() {
  const input = 'Tell me a long enough story so that the text arrives in several deltas';
  const stream = await client.responses.create({ model: MODEL, input, stream: true });
  const events = [];
  for await (const event of stream) events.push(event);
  const { id, text, completed } = assertCanonicalStream(events, 'create(stream: true)');
  assert.equal(text, `You said: ${input}`);
  const deltaCount = events.filter((e) => e.type === 'response.output_text.delta').length;
  assert.ok(deltaCount > 1, `expected several text deltas, got ${deltaCount}`);
  state.streamed = { id, text };
  return { id, events: events.length, deltas: deltaCount, usage: completed.usage };
}

async function streamHelper() {
  const input = 'Stream me through the helper';
  const stream = client.responses.stream({ model: MODEL, input });
  const events = [];
  let deltas = '';
  stream.on('response.output_text.delta', (event) => {
    deltas += event.delta;
  });
  for await (const event of stream) events.push(event);
  const final = await stream.finalResponse();
  assertCanonicalStream(events, 'responses.stream()');
  assert.equal(final.status, 'completed');
  assert.equal(final.id, events[0].response.id);
  assert.equal(final.output_text, `You said: ${input}`);
  assert.equal(deltas, final.output_text, 'deltas seen by .on() differ from finalResponse()');
  assertUsage(final.usage, 'responses.stream() finalResponse');
  return { id: final.id, events: events.length, output_text: final.output_text };
}

async function functionCallRoundTrip() {
  const first = await client.responses.create({
    model: MODEL,
    input: 'What is the weather in Paris?',
    tools: [WEATHER_TOOL],
  });
  assert.equal(first.status, 'completed');
  const calls = first.output.filter((item) => item.type === 'function_call');
  assert.equal(calls.length, 1, `expected one function_call, got ${JSON.stringify(first.output)}`);
  const [call] = calls;
  assert.equal(call.name, 'get_weather');
  assert.ok(call.call_id, 'function_call has no call_id');
  const args = JSON.parse(call.arguments);
  assert.deepEqual(Object.keys(args), ['city'], `arguments ${call.arguments} break the schema`);
  assert.equal(typeof args.city, 'string');
  assert.equal(first.output_text, '', 'a tool-calling turn should carry no text');

  const output = JSON.stringify({ city: args.city, temperature_c: 21, sky: 'sunny' });
  const second = await client.responses.create({
    model: MODEL,
    previous_response_id: first.id,
    input: [{ type: 'function_call_output', call_id: call.call_id, output }],
    tools: [WEATHER_TOOL],
  });
  assert.equal(second.status, 'completed');
  assert.equal(second.previous_response_id, first.id);
  assert.ok(
    !second.output.some((item) => item.type === 'function_call'),
    `the tool was called again: ${JSON.stringify(second.output)}`,
  );
  assert.ok(
    second.output_text.includes(output),
    `final text ${JSON.stringify(second.output_text)} does not include the tool output`,
  );
  assert.equal(second.output_text, `Here is what I found. get_weather: ${output}`);
  return { call_id: call.call_id, arguments: args, output_text: second.output_text };
}

async function retrieveById() {
  assert.ok(state.plain, 'needs the non-streaming response');
  const again = await client.responses.retrieve(state.plain.id);
  assert.equal(again.id, state.plain.id);
  assert.equal(again.status, 'completed');
  assert.equal(again.output_text, state.plain.output_text);
  assert.deepEqual(again.usage, state.plain.usage);
  const retrieved = { plain: again.id };
  if (state.streamed) {
    const streamed = await client.responses.retrieve(state.streamed.id);
    assert.equal(streamed.status, 'completed');
    assert.equal(streamed.output_text, state.streamed.text, 'streamed response was not stored');
    retrieved.streamed = streamed.id;
  }
  return retrieved;
}

async function retrieveMissing() {
  const id = 'resp_doesnotexist';
  const error = await client.responses.retrieve(id).then(
    (value) => assert.fail(`retrieve(${id}) resolved with ${JSON.stringify(value)}`),
    (err) => err,
  );
  assert.ok(
    error instanceof OpenAI.NotFoundError,
    `expected NotFoundError, got ${error?.constructor?.name}: ${error?.message}`,
  );
  assert.ok(error instanceof OpenAI.APIError);
  assert.equal(error.status, 404);
  assert.equal(error.type, 'invalid_request_error');
  assert.ok(error.message.includes(id), `error message ${JSON.stringify(error.message)}`);
  return { status: error.status, type: error.type, code: error.code, message: error.message };
}

const checks = [
  ['create', createNonStreaming],
  ['create_stream', createStreaming],
  ['stream_helper', streamHelper],
  ['function_call_round_trip', functionCallRoundTrip],
  ['retrieve', retrieveById],
  ['retrieve_missing_404', retrieveMissing],
];

const summary = { baseURL, model: MODEL, sdk: SDK_VERSION, node: process.version };
summary.checks = {};
let failed = 0;
for (const [name, check] of checks) {
  try {
    summary.checks[name] = { ok: true, detail: await check() };
  } catch (err) {
    failed += 1;
    const kind = err?.constructor?.name ?? err?.name;
    summary.checks[name] = { ok: false, error: `${kind}: ${err?.message}` };
    console.error(`FAIL ${name}:`, err);
  }
}
summary.passed = checks.length - failed;
summary.failed = failed;
console.log(JSON.stringify(summary, null, 2));
process.exitCode = failed === 0 ? 0 : 1;
