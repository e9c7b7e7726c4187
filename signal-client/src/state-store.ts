import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { errorClass } from '@appliance/errors';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import type { Logger } from 'pino';
import { Ledger } from '@appliance/trading-core';
import {
  IntentJournal,
  JournalCorruptError,
  intentJournalPath,
  prepareJournal,
  readJournal,
  type JournalScan,
} from './intent-journal.js';
import { ClientState, emptyState, migrateState, pruneResumePoints, type Intent } from './state.js';

/** The state file exists but cannot be trusted: the client refuses to trade and says why. */
export class StateError extends errorClass('StateError', {
  E_STATE_CORRUPT: 'the state file cannot be read, parsed or trusted',
  E_STATE_JOURNAL_CORRUPT: 'the intent journal is damaged before its end (not a torn write)',
}) {
  constructor(message: string, code: 'E_STATE_CORRUPT' | 'E_STATE_JOURNAL_CORRUPT' = 'E_STATE_CORRUPT') {
    super(code, message);
  }
}

/** The snapshot as read: its data, and whether it was of an older format (then it is written back). */
interface Snapshot {
  data: ClientState | undefined;
  migrated: boolean;
}

/** Reads and checks the snapshot (the state file); undefined data when there is none yet. */
async function readSnapshot(path: string, options: StateStoreOptions): Promise<Snapshot> {
  let text: string | undefined;
  try {
    text = await readFileIfExists(path);
  } catch (err) {
    // A folder, no permission, an I/O error: as unusable as a corrupt file.
    throw new StateError(`state file ${path} cannot be read (${describe(err)}): refusing to trade`);
  }
  if (text === undefined) return { data: undefined, migrated: false };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StateError(`state file ${path} is not valid JSON (truncated or corrupt): refusing to trade`);
  }
  const migrated = migrateState(json);
  const dropped = pruneResumePoints(json, options.streams ?? []);
  if (dropped.streams + dropped.partitions > 0)
    options.logger?.warn(
      { path, ...dropped },
      'state file held resume points beyond the bounds (unfollowed streams, too many): dropped',
    );
  const parsed = ClientState.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // A bad record key (stream name, partition) says which rule it broke one level down.
    const inner = issue?.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
    throw new StateError(
      `state file ${path} does not match its schema at ${issue?.path.join('.') || '(root)'}: ${inner ?? issue?.message}: refusing to trade`,
    );
  }
  return { data: parsed.data, migrated };
}

function checkBooks(path: string, data: ClientState): void {
  if (data.ledger === undefined) return;
  try {
    Ledger.fromJSON(data.ledger);
  } catch (err) {
    throw new StateError(
      `state file ${path} holds books that do not balance (${(err as Error).message}): refusing to trade`,
    );
  }
}

async function scanIntentJournal(path: string, statePath: string): Promise<JournalScan> {
  try {
    return await readJournal(path);
  } catch (err) {
    if (err instanceof JournalCorruptError)
      throw new StateError(
        `intent journal ${path} of state file ${statePath} is damaged (${err.message}): refusing to trade`,
        'E_STATE_JOURNAL_CORRUPT',
      );
    throw new StateError(`intent journal ${path} cannot be read (${describe(err)}): refusing to trade`);
  }
}

function describe(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/**
 * The device's durable state: the snapshot (the state file, rewritten whole and atomically) and
 * the intent journal beside it (appended to before each order; see intent-journal.ts).
 */
export interface StateStore {
  readonly data: ClientState;
  /**
   * Writes the whole state atomically (temporary file, fsync, rename, fsync of the folder); it
   * includes every intent journalled so far, so a long journal is emptied after it.
   */
  write(): Promise<void>;
  /** Makes one intent durable as it is now: one append to the journal and one fdatasync. */
  writeIntent(intent: Intent): Promise<void>;
  /** Closes the journal (a later write opens it again). */
  close(): Promise<void>;
}

/** The journal is emptied after a snapshot once it holds this many bytes (a few hundred intents). */
const DEFAULT_JOURNAL_COMPACT_BYTES = 64 * 1024;

export interface StateStoreOptions {
  /** The streams the device follows (config `settings.streams`): resume points of others are dropped on load. */
  streams?: readonly string[];
  logger?: Logger;
  /**
   * For a reader beside the running device (the status command, tests): nothing is written,
   * no torn tail cut off, no older format written back, no folder made.
   */
  readOnly?: boolean;
  /** See DEFAULT_JOURNAL_COMPACT_BYTES. */
  compactBytes?: number;
}

/**
 * Opens (or creates) the device's state: the snapshot, then every newer record of the intent
 * journal replayed over it. A torn journal tail (a crash mid-append) is cut off and logged; a
 * state file of an older format is brought to this one and written back at once. Anything that
 * makes the state unusable (unreadable, a folder, not JSON, not the schema, unbalanced books,
 * another device's, a journal damaged before its end) is a StateError: the device refuses to
 * trade (exit 3) until someone looks.
 */
export async function openStateStore(
  path: string,
  deviceId: string,
  options: StateStoreOptions = {},
): Promise<StateStore> {
  if (!options.readOnly) {
    try {
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why =
        code === 'EEXIST' || code === 'ENOTDIR' ? `${dirname(path)} is not a folder` : describe(err);
      throw new StateError(`state file ${path} cannot be created (${why}): refusing to trade`);
    }
  }
  const snapshot = await readSnapshot(path, options);
  if (snapshot.data) checkBooks(path, snapshot.data);
  const data = snapshot.data ?? emptyState(deviceId);
  const journalPath = intentJournalPath(path);
  const scan = await scanIntentJournal(journalPath, path);
  let lastSeq = data.journalSeq;
  let replayed = 0;
  for (const { seq, intent } of scan.records) {
    if (seq <= data.journalSeq) continue; // already in the snapshot
    data.intents[intent.clientOrderId] = intent;
    lastSeq = Math.max(lastSeq, seq);
    replayed++;
  }
  if (data.deviceId !== deviceId) {
    throw new StateError(
      `state file ${path} belongs to device ${data.deviceId}, not ${deviceId}: refusing to trade`,
    );
  }
  if (replayed > 0)
    options.logger?.info({ path: journalPath, replayed }, 'intents replayed from the journal');
  if (options.readOnly) return readOnlyStore(data);

  if (scan.validBytes < scan.size)
    options.logger?.warn(
      { path: journalPath, kept: scan.validBytes, cut: scan.size - scan.validBytes },
      'intent journal ends in a torn record (a crash mid-write): cut off',
    );
  try {
    await prepareJournal(journalPath, scan.validBytes);
  } catch (err) {
    throw new StateError(
      `intent journal ${journalPath} cannot be written (${describe(err)}): refusing to trade`,
    );
  }
  const journal = new IntentJournal(journalPath, { bytes: scan.validBytes, lastSeq });
  const compactBytes = options.compactBytes ?? DEFAULT_JOURNAL_COMPACT_BYTES;
  const store: StateStore = {
    data,
    async write() {
      const seq = journal.lastSeq;
      data.journalSeq = seq;
      await writeFileDurable(path, JSON.stringify(data));
      if (journal.bytes >= compactBytes) await journal.compact(seq);
    },
    writeIntent: (intent) => journal.append(intent),
    close: () => journal.close(),
  };
  if (snapshot.migrated) {
    await store.write();
    options.logger?.info({ path }, 'state file brought to the current format');
  }
  return store;
}

function readOnlyStore(data: ClientState): StateStore {
  const refuse = () => Promise.reject(new Error('state store opened read-only'));
  return { data, write: refuse, writeIntent: refuse, close: async () => undefined };
}
