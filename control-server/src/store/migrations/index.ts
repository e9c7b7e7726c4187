import { DEVICES } from './001-devices.js';
import { ELIGIBILITY } from './002-eligibility.js';
import { BREAKER_AND_ADMIN } from './003-breaker-admin.js';
import { POLICIES } from './004-policies.js';
import { COMMANDS } from './005-commands.js';
import { BREAKER_HISTORY } from './006-breaker-history.js';
import { ENROLMENT } from './007-enrolment.js';

/** One schema change: SQL run once, in a transaction, when the database is older than `version`. */
export interface Migration {
  version: number;
  name: string;
  up: string;
}

/** In order; never edit one that has shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [
  DEVICES,
  ELIGIBILITY,
  BREAKER_AND_ADMIN,
  POLICIES,
  COMMANDS,
  BREAKER_HISTORY,
  ENROLMENT,
];
