import type { StateStore } from './state-store.js';
import type { JournalHealth } from './systemd/index.js';

export interface JournalDeps {
  store: StateStore;
  now: () => number;
  /** Copies what lives outside the state object (replay guard, books) into it before a write. */
  collect: () => void;
}

/** The device's durable writes of the state file, and their record for the watchdog. */
export interface Journal {
  /** Makes the state durable; throws when it could not be written. */
  persist(): Promise<void>;
  health(): JournalHealth;
}

export function createJournal(deps: JournalDeps): Journal {
  const { store, now } = deps;
  const journal: JournalHealth = { lastOkAt: null, lastFailedAt: null };

  async function persist(): Promise<void> {
    deps.collect();
    try {
      await store.write();
      journal.lastOkAt = now();
    } catch (err) {
      // A journal that cannot be written stops the watchdog: systemd restarts the device.
      journal.lastFailedAt = now();
      journal.lastError = (err as Error).message;
      throw err;
    }
  }

  return { persist, health: () => ({ ...journal }) };
}
