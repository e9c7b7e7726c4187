import type { Intent } from './state.js';
import type { StateStore } from './state-store.js';
import type { JournalHealth } from './systemd/index.js';

export interface JournalDeps {
  store: StateStore;
  now: () => number;
  /** Copies what lives outside the state object (replay guard, books) into it before a write. */
  collect: () => void;
}

/** The device's durable writes of its state, and their record for the watchdog. */
export interface Journal {
  /** Makes the whole state durable (the snapshot); throws when it could not be written. */
  persist(): Promise<void>;
  /**
   * Makes one intent durable before its order is sent (an append to the intent journal, one
   * fdatasync); throws when it could not be written, and then the order is not sent.
   */
  persistIntent(intent: Intent): Promise<void>;
  health(): JournalHealth;
}

export function createJournal(deps: JournalDeps): Journal {
  const { store, now } = deps;
  const journal: JournalHealth = { lastOkAt: null, lastFailedAt: null };

  async function recorded(write: Promise<void>): Promise<void> {
    try {
      await write;
      journal.lastOkAt = now();
    } catch (err) {
      // A journal that cannot be written stops the watchdog: systemd restarts the device.
      journal.lastFailedAt = now();
      journal.lastError = (err as Error).message;
      throw err;
    }
  }

  async function persist(): Promise<void> {
    deps.collect();
    await recorded(store.write());
  }

  return {
    persist,
    persistIntent: (intent) => recorded(store.writeIntent(intent)),
    health: () => ({ ...journal }),
  };
}
