/**
 * Which window instance covers a local time. Everything is wall-clock: an instance is
 * named by the local day number it started on, so a spend and `now` are in the same
 * instance exactly when both fall in the window and their instances start on the same
 * local date (the repeated hour of a fall-back is one instance, as documented on
 * `ScheduleWindow`).
 */
import type { ScheduleOwner } from './effective-limits.js';
import type { LocalTime } from './local-time.js';
import { WEEKDAYS, type Schedule, type ScheduleWindow } from './policy.js';

export interface ActiveWindow {
  owner: ScheduleOwner;
  /** Weekday the window is listed under (where it starts), 0 = Monday. */
  weekday: number;
  window: ScheduleWindow;
  /** Local day number on which the covering instance started. */
  instanceDay: number;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** The local day its instance started on if `at` is inside `window` (listed under `weekday`), else null. */
export function instanceDay(window: ScheduleWindow, weekday: number, at: LocalTime): number | null {
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  if (end > start) return at.weekday === weekday && at.minute >= start && at.minute < end ? at.day : null;
  // Crosses midnight: the evening part on its own weekday, the morning part on the next.
  if (at.weekday === weekday && at.minute >= start) return at.day;
  if (at.weekday === (weekday + 1) % 7 && at.minute < end) return at.day - 1;
  return null;
}

/** Every window of `schedule` that covers `at`. */
export function activeWindows(owner: ScheduleOwner, schedule: Schedule, at: LocalTime): ActiveWindow[] {
  const out: ActiveWindow[] = [];
  WEEKDAYS.forEach((name, weekday) => {
    for (const window of schedule[name] ?? []) {
      const day = instanceDay(window, weekday, at);
      if (day !== null) out.push({ owner, weekday, window, instanceDay: day });
    }
  });
  return out;
}

export function whose(owner: ScheduleOwner): string {
  return owner === 'central' ? 'the central schedule' : 'your schedule';
}
