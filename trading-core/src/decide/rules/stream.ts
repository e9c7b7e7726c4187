/** The user chooses which streams to follow; a signal from another is not acted on at all. */
import { ALLOW, badInput, deny, type RuleResult } from '../rule.js';
import type { UserSettings } from '../settings.js';
import type { DecisionSignal } from '../types.js';

export function streamRule(signal: DecisionSignal, settings: UserSettings): RuleResult {
  const streams: unknown = settings?.streams ?? [];
  if (!Array.isArray(streams)) return badInput('the followed streams in your settings are not a list');
  if (streams.length === 0 || streams.includes(signal.stream)) return ALLOW;
  return deny('R_NOT_FOLLOWED', `This device does not follow the stream "${signal.stream}"`);
}
