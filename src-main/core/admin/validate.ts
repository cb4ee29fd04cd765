/**
 * Server-side use of the admin body schemas (`schemas.ts`): a body is tidied (empty optional
 * fields absent, text trimmed) and checked; a problem is a 400 RelayError whose message names the
 * field and never repeats a submitted password. The admin scope's route validator and the saved
 * settings file (`core/relay.ts`) both go through `checkBody`.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { errors } from '../errors';
import { AccountAddBody, AccountEditBody, firstProblem, SettingsBody, tidyBody } from './schemas';

/** The tidied body, or a 400 naming the first field with a problem. */
export function checkBody<S extends TSchema>(schema: S, body: unknown): Static<S> {
  const tidy = tidyBody(body);
  const p = firstProblem(schema, tidy);
  if (p) throw errors.invalid(p.message, p.param);
  return tidy as Static<S>;
}

/** Account add (`partial` false) or edit (`partial` true). */
export function parseAccount(body: unknown, partial: boolean): Static<typeof AccountEditBody> {
  return partial ? checkBody(AccountEditBody, body) : checkBody(AccountAddBody, body);
}

export function parseSettings(body: unknown): Static<typeof SettingsBody> {
  return checkBody(SettingsBody, body);
}
