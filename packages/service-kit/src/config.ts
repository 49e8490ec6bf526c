// Environment -> typed, frozen config through a zod schema; every problem reported in one ConfigError.
import type { z } from 'zod';
import { ConfigError } from './errors.js';

export type Env = Record<string, string | undefined>;

/**
 * Parses `env` with `schema`. Empty strings count as unset, so `FOO=` in a manifest falls back to
 * the default instead of failing validation in a confusing way.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: Env = process.env): Readonly<z.output<S>> {
  const cleaned: Env = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && value.trim() !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => {
        const name = issue.path.length > 0 ? issue.path.join('.') : 'config';
        const missing = issue.code === 'invalid_type' && cleaned[String(issue.path[0])] === undefined;
        return missing ? `${name}: required but not set` : `${name}: ${issue.message}`;
      }),
    );
  }
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

type Loaded<T extends Record<string, () => unknown>> = { [K in keyof T]: ReturnType<T[K]> };

/**
 * Runs several config loaders (the app's schema, auth-core's credential variables, ...) and
 * reports the problems of all of them, plus `knownIssues`, in one ConfigError, so the user fixes
 * everything in one go instead of one error per restart.
 */
export function loadConfigParts<T extends Record<string, () => unknown>>(
  loaders: T,
  knownIssues: readonly string[] = [],
): Loaded<T> {
  const issues = [...knownIssues];
  const loaded: Record<string, unknown> = {};
  for (const [name, load] of Object.entries(loaders)) {
    try {
      loaded[name] = load();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return loaded as Loaded<T>;
}

/**
 * Variables that were renamed: the old name is still read, with a warning, when the new one is not
 * set. Returns the environment with the new names filled in, and the warnings to log at startup.
 */
export function renamedVariables(
  env: Env,
  renames: Readonly<Record<string, string>>,
): { env: Env; warnings: string[] } {
  const out: Env = { ...env };
  const warnings: string[] = [];
  for (const [old, current] of Object.entries(renames)) {
    if ((env[old] ?? '').trim() === '') continue;
    if ((env[current] ?? '').trim() === '') {
      out[current] = env[old];
      warnings.push(`${old} is deprecated: set ${current} instead (${old} is read for now)`);
    } else {
      warnings.push(`${old} is deprecated and ignored: ${current} is set`);
    }
  }
  return { env: out, warnings };
}
