/**
 * A backend's parameters, each written once: its name (NIXL's snake_case),
 * the names it is also accepted under, its default, the line of the README
 * table that documents it, how its string parses, and the name of the field
 * it fills in the native engine's options. The parser, the README table
 * (renderParamTable, checked by test/backends/param-tables.test.ts) and the
 * native options all come from the table.
 */
import type { BackendParams } from '../../src/backend.js';
import { InvalidParamError } from '../../src/errors.js';

export interface ParamSpec<N extends string, T> {
  readonly default: string;
  /** Other names it is accepted under (NIXL's spellings, older ones). */
  readonly aliases?: readonly string[];
  /** How the README shows the default (e.g. "(empty)"); the default itself when absent. */
  readonly defaultDoc?: string;
  /** The README's description. */
  readonly doc: string;
  /** A row of the README only (a family of names, such as `ucx.KEY`), not parsed. */
  readonly docOnly?: boolean;
  /** The field of the parsed options (and of the native engine's options). */
  readonly field: N;
  /** Parses the value; `fail(want)` throws InvalidParamError naming the parameter. */
  readonly parse: (raw: string, fail: (want: string) => never) => T;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ParamTable = Readonly<Record<string, ParamSpec<string, any>>>;

/** The parsed options: one field per parameter, named by its `field`. */
export type ParsedParams<T extends ParamTable> = {
  -readonly [K in keyof T as T[K] extends { docOnly: true } ? never : T[K]['field']]: ReturnType<
    T[K]['parse']
  >;
};

/** The defaults, as NIXL's getPluginParams reports them. */
export function paramDefaults(table: ParamTable): BackendParams {
  const out: BackendParams = {};
  for (const [name, spec] of Object.entries(table)) if (!spec.docOnly) out[name] = spec.default;
  return out;
}

/**
 * Parses `params` against the table. An unknown name (that no `extra`
 * predicate accepts) or a bad value is an InvalidParamError that names it.
 */
export function parseParamTable<T extends ParamTable>(
  table: T,
  params: BackendParams,
  backend: string,
  extra: (name: string) => boolean = () => false,
): ParsedParams<T> {
  const byName = new Map<string, string>();
  for (const [name, spec] of Object.entries(table)) {
    if (spec.docOnly) continue;
    byName.set(name, name);
    for (const a of spec.aliases ?? []) byName.set(a, name);
  }
  const given = new Map<string, [string, string]>(); // canonical -> [name used, value]
  for (const [k, v] of Object.entries(params)) {
    const canonical = byName.get(k);
    if (canonical === undefined) {
      if (extra(k)) continue;
      throw new InvalidParamError(
        `unknown parameter '${k}'; known: ${Object.keys(table)
          .filter((n) => !table[n]!.docOnly)
          .join(', ')}`,
        { op: 'createBackend', backend },
      );
    }
    const earlier = given.get(canonical);
    if (earlier && earlier[1] !== v) {
      // The defaults (under the canonical names) may have been merged with
      // the user's values (under an alias): the value that is not the default wins.
      const dflt = table[canonical]!.default;
      if (earlier[1] !== dflt && v !== dflt) {
        throw new InvalidParamError(
          `parameters '${earlier[0]}' and '${k}' are the same parameter with different values`,
          { op: 'createBackend', backend },
        );
      }
      if (v === dflt) continue;
    }
    given.set(canonical, [k, v]);
  }
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(table)) {
    if (spec.docOnly) continue;
    const [used, raw] = given.get(name) ?? [name, spec.default];
    const fail = (want: string): never => {
      throw new InvalidParamError(`parameter ${used} must be ${want}, got '${raw}'`, {
        op: 'createBackend',
        backend,
      });
    };
    out[spec.field] = spec.parse(raw, fail);
  }
  return out as ParsedParams<T>;
}

/** The README table of a parameter table (markdown, no alignment padding). */
export function renderParamTable(table: ParamTable): string {
  const rows = ['| param | default | meaning |', '| --- | --- | --- |'];
  for (const [name, spec] of Object.entries(table)) {
    const names = [name, ...(spec.aliases ?? [])].map((n) => `\`${n}\``);
    const shown = spec.defaultDoc ?? `\`${spec.default}\``;
    rows.push(
      `| ${names[0]}${names.length > 1 ? ` (${names.slice(1).join(', ')})` : ''} | ${shown} | ${spec.doc} |`,
    );
  }
  return rows.join('\n');
}

// Parsers shared by the tables.

export const integer =
  (min: number, max: number) =>
  (raw: string, fail: (want: string) => never): number => {
    const v = Number(raw);
    // Digits only: '1e3', '0x10' or ' 5' are not what a reader of the config expects.
    if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
      fail(`an integer in ${min}..${max}`);
    }
    return v;
  };

export const oneOf =
  <V extends string>(...values: V[]) =>
  (raw: string, fail: (want: string) => never): V => {
    if (!(values as string[]).includes(raw)) fail(values.map((v) => `'${v}'`).join(' or '));
    return raw as V;
  };

/** A two-way switch written as two words (`'on'`/`'off'`, `'true'`/`'false'`): true for the first. */
export const onOff =
  (on: string, off: string) =>
  (raw: string, fail: (want: string) => never): boolean => {
    if (raw !== on && raw !== off) fail(`'${on}' or '${off}'`);
    return raw === on;
  };

export const text = (raw: string): string => raw;
