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
