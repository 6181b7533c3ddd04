import { _, Ajv2020, type KeywordCxt, type ValidateFunction } from 'ajv/dist/2020.js';
import { z } from 'zod/v4';
import { Command } from './commands.js';
import type { Message } from './messages.js';
import { FailSchema, HeartbeatSchema, ResultSchema, TaskSchema } from './schema.js';

/**
 * Compiled validators for the messages that arrive once per task or per heartbeat
 * (TASK, RESULT, FAIL, HEARTBEAT), generated from the zod schemas in `schema.ts` so there is
 * still one definition of each message.
 *
 * Why: zod 4 builds a `{value, issues}` object for every field it checks and returns a
 * copy of the input; on a RESULT that is about 1.8 KB of garbage per task, a quarter of
 * everything the master allocates per no-op task (`npm run bench`, dispatch, with the
 * sampling heap profiler). Ajv compiles the JSON Schema (`z.toJSONSchema`) into one
 * function that checks the decoded object in place and allocates nothing when it passes.
 *
 * Semantics kept from zod: unknown keys are removed (`removeAdditional: 'all'`, as zod's
 * default `strip`); NaN and Infinity are not numbers (`strictNumbers`). Discriminated unions
 * become `oneOf` with Ajv's `discriminator`, so only the branch the tag names is checked
 * (and stripped). Only plain objects pass (zod would copy a Buffer's keys into a new
 * object). Only schemas without zod refinements may be listed here: a refinement has no
 * JSON Schema form. READY and DISCONNECT, once a session each, stay with zod. TASK came
 * here when its one refinement (an odd kernel size) became a list of values: zod was the
 * slave's largest cost per no-op task (dispatch bench, CPU profile). Whatever the
 * compiled path refuses goes to zod, so it may be stricter than zod but never more
 * lenient: `test/unit/proto/fast-validate.test.ts` checks that on valid and mutated
 * messages.
 */

type JsonSchema = Record<string, unknown>;

/** Turns each `anyOf` whose branches all carry a `const` on one required key into `oneOf` + `discriminator`. */
function withDiscriminators(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withDiscriminators);
  if (typeof node !== 'object' || node === null) return node;
  const out: JsonSchema = {};
  for (const [k, v] of Object.entries(node as JsonSchema)) out[k] = withDiscriminators(v);
  // Ajv's "object" is anything typeof 'object' (a Buffer too); zod would copy such a value's
  // own keys into a new plain object, so only plain objects may take the fast path.
  if (out['type'] === 'object') out['plainObject'] = true;
  const branches = out['anyOf'];
  if (Array.isArray(branches) && branches.length > 1) {
    const tag = discriminatorOf(branches as JsonSchema[]);
    if (tag !== undefined) {
      delete out['anyOf'];
      out['type'] = 'object';
      out['plainObject'] = true;
      out['required'] = [tag];
      out['discriminator'] = { propertyName: tag };
      out['oneOf'] = branches;
    }
  }
  return out;
}

function discriminatorOf(branches: JsonSchema[]): string | undefined {
  const first = branches[0]?.['properties'] as Record<string, JsonSchema> | undefined;
  if (first === undefined) return undefined;
  for (const key of Object.keys(first)) {
    const ok = branches.every((b) => {
      const p = (b['properties'] as Record<string, JsonSchema> | undefined)?.[key];
      return p !== undefined && 'const' in p && Array.isArray(b['required']) && (b['required'] as string[]).includes(key);
    });
    if (ok) return key;
  }
  return undefined;
}

const ajv = new Ajv2020({ removeAdditional: 'all', discriminator: true, strictNumbers: true, allErrors: false, strict: false });
ajv.addKeyword({
  keyword: 'plainObject',
  type: 'object',
  schemaType: 'boolean',
  // Compiled inline: a plain object's prototype is Object.prototype (or null).
  code(cxt: KeywordCxt) {
    const proto = cxt.gen.const('proto', _`Object.getPrototypeOf(${cxt.data})`);
    cxt.fail(_`${proto} !== Object.prototype && ${proto} !== null`);
  },
});

function compile(schema: z.ZodType): ValidateFunction {
  return ajv.compile(withDiscriminators(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'throw' })) as JsonSchema);
}

/** Compiled validator per command; commands not listed are validated by zod only. */
const FAST: ReadonlyMap<string, ValidateFunction> = new Map([
  [Command.Task, compile(TaskSchema)],
  [Command.Result, compile(ResultSchema)],
  [Command.Fail, compile(FailSchema)],
  [Command.Heartbeat, compile(HeartbeatSchema)],
]);

/**
 * Checks a decoded msgpack header in place with the compiled validator of its command.
 *
 * @param raw - the decoded header (a plain object); unknown keys are deleted from it
 * @returns the header typed as a {@link Message} when it is a valid TASK, RESULT, FAIL or
 *   HEARTBEAT; `undefined` when it is invalid or of another command (then zod decides,
 *   and gives the error message)
 */
export function fastValidate(raw: object): Message | undefined {
  return compiledFor(raw)?.(raw) === true ? (raw as Message) : undefined;
}

/** The compiled validator of `raw`'s command, if it has one. */
function compiledFor(raw: object): ValidateFunction | undefined {
  const cmd = (raw as { cmd?: unknown }).cmd;
  return typeof cmd === 'string' ? FAST.get(cmd) : undefined;
}

/**
 * Why the compiled validator refuses `raw`: the first error it meets (it stops there), as
 * `path: message` (`results.0.value.boxes.0: must be object`). For a header too large to
 * hand to zod (see `decode`), whose every bad value would cost an issue object.
 *
 * @returns undefined when `raw` is of a command without a compiled validator, or passes it
 */
export function fastValidationError(raw: object): string | undefined {
  const check = compiledFor(raw);
  if (check === undefined || check(raw)) return undefined;
  const first = check.errors?.[0];
  if (first === undefined) return 'invalid';
  const where = first.instancePath.slice(1).replaceAll('/', '.');
  return `${where ? `${where}: ` : ''}${first.message ?? 'invalid'}`;
}
