import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * One handler per command name, given the whole command (`id` included). What
 * it returns (or resolves with) is the reply, sent as `{id, ...result}`;
 * undefined sends `{id}`. A throw (or a rejection) is an error reply.
 */
export type JsonLineHandlers<
  Command extends Record<Field, string>,
  Field extends string = 'cmd',
> = {
  [Name in Command[Field]]: (
    command: Extract<Command, Record<Field, Name>>,
  ) => object | void | Promise<object | void>;
};

/** Where a JSON-line server reads and writes, and how it names things. */
export interface JsonLineServerOptions<Field extends string = 'cmd'> {
  /** Default: process.stdin. */
  input?: Readable;
  /** Default: process.stdout. */
  output?: Writable;
  /** The field that names a command. Default: `cmd`. */
  commandField?: Field;
  /** The field that names an event (as the parent's JsonLineChild eventField). Default: `event`. */
  eventField?: string;
  /** The error text of a failed command's reply. Default: `<name>: <message>`. */
  errorText?: (err: unknown) => string;
  /**
   * A command without an id (the parent's post()) failed: there is no reply
   * to carry it. Default: rethrown, which ends the process (an unhandled
   * rejection), as a bug should, rather than leave the parent waiting.
   */
  onPostError?: (err: unknown, command: Record<string, unknown>) => void;
  /** The input ended (the parent closed it, or died). Default: nothing. */
  onEnd?: () => void;
}

/** What a handler or the process can do besides replying. */
export interface JsonLineServer {
  /** Writes `{<eventField>: event, ...fields}`: a line the parent's onEvent/nextEvent sees. */
  emit(event: string, fields?: object): void;
}

/**
 * The child side of JsonLineChild: reads one JSON command a line from
 * stdin, calls the handler its `cmd` names, and writes the reply with the
 * command's id on stdout. Commands run as they arrive, not one after the
 * other: a slow one (waiting for a notification) does not hold up the next.
 * A command without an id gets no reply. A line that is not JSON is the
 * parent's bug and throws (ending the process).
 */
export function serveJsonLines<Command extends Record<Field, string>, Field extends string = 'cmd'>(
  handlers: JsonLineHandlers<Command, Field>,
  opts: JsonLineServerOptions<Field> = {},
): JsonLineServer {
  const output = opts.output ?? process.stdout;
  const commandField = opts.commandField ?? 'cmd';
  const eventField = opts.eventField ?? 'event';
  const errorText = opts.errorText ?? defaultErrorText;
  const onPostError =
    opts.onPostError ??
    ((err: unknown) => {
      throw err;
    });
  const write = (o: object) => output.write(JSON.stringify(o) + '\n');
  const byName = handlers as Record<string, (c: unknown) => object | void | Promise<object | void>>;

  const run = (c: Record<string, unknown>): object | void | Promise<object | void> => {
    const name = c[commandField];
    const handler = typeof name === 'string' && Object.hasOwn(byName, name) && byName[name];
    if (!handler) throw new Error(`unknown command ${String(name)}`);
    return handler(c);
  };

  const rl = createInterface({ input: opts.input ?? process.stdin, crlfDelay: Infinity });
  rl.on('line', (line) => {
    const c = JSON.parse(line) as Record<string, unknown>;
    let result: object | void | Promise<object | void>;
    // A synchronous handler runs right here (one that blocks its thread, or
    // kills its process, does so before anything else happens).
    try {
      result = run(c);
    } catch (err) {
      result = Promise.reject(err);
    }
    const id = c.id;
    Promise.resolve(result).then(
      (r) => {
        if (id !== undefined) write({ id, ...r });
      },
      (err: unknown) => {
        if (id !== undefined) write({ id, error: errorText(err) });
        else onPostError(err, c);
      },
    );
  });
  if (opts.onEnd) rl.on('close', opts.onEnd);

  return { emit: (event, fields = {}) => write({ [eventField]: event, ...fields }) };
}

function defaultErrorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
