/**
 * The user's local settings, from the device's config file. They can only TIGHTEN the
 * central policy (see `effectiveLimits`): a looser value is ignored, never an error, so a
 * policy update that tightens below a local value simply takes over.
 */
import { z } from 'zod';
import { isKnownTimeZone } from './local-time.js';
import { limitFields, Schedule } from './policy.js';

const optionalLimits = Object.fromEntries(
  Object.entries(limitFields).map(([name, schema]) => [name, schema.optional()]),
) as { [K in keyof typeof limitFields]: z.ZodOptional<(typeof limitFields)[K]> };

export const UserSettings = z.strictObject({
  /** IANA zone the schedule and the day limits are read in, e.g. `'Europe/Berlin'`. */
  timeZone: z.string().refine(isKnownTimeZone, 'timeZone: not a known IANA time zone'),
  /** Streams this device acts on; empty: all. Signals of other streams are rejected, sells too. */
  streams: z.array(z.string()).default([]),
  /** true: no buys (sells still go through, so the user is never trapped in a position). */
  paused: z.boolean().default(false),
  /** Own, tighter values for any numeric limit of the policy. */
  ...optionalLimits,
  /** Own schedule: buying needs a buying window in BOTH schedules; each window's maxSpend applies. */
  schedule: Schedule.optional(),
});
export type UserSettings = z.infer<typeof UserSettings>;
