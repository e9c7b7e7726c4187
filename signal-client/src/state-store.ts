import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import { readFileIfExists, writeFileDurable } from '@appliance/runtime';
import type { Logger } from 'pino';
import { Ledger } from '@appliance/trading-core';
import { ClientState, emptyState, pruneResumePoints } from './state.js';

/** The state file exists but cannot be trusted: the client refuses to trade and says why. */
export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code = 'E_STATE_CORRUPT';
}

/** A lowdb adapter whose writes are durable (fsync of file and folder) and whose reads are checked. */
class DurableJsonAdapter implements Adapter<ClientState> {
  constructor(
    readonly path: string,
    readonly options: StateStoreOptions,
  ) {}

  async read(): Promise<ClientState | null> {
    let text: string | undefined;
    try {
      text = await readFileIfExists(this.path);
    } catch (err) {
      // A folder, no permission, an I/O error: as unusable as a corrupt file.
      throw new StateError(`state file ${this.path} cannot be read (${describe(err)}): refusing to trade`);
    }
    if (text === undefined) return null;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StateError(
        `state file ${this.path} is not valid JSON (truncated or corrupt): refusing to trade`,
      );
    }
    const dropped = pruneResumePoints(json, this.options.streams ?? []);
    if (dropped.streams + dropped.partitions > 0)
      this.options.logger?.warn(
        { path: this.path, ...dropped },
        'state file held resume points beyond the bounds (unfollowed streams, too many): dropped',
      );
    const parsed = ClientState.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      // A bad record key (stream name, partition) says which rule it broke one level down.
      const inner = issue?.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
      throw new StateError(
        `state file ${this.path} does not match its schema at ${issue?.path.join('.') || '(root)'}: ${inner ?? issue?.message}: refusing to trade`,
      );
    }
    if (parsed.data.ledger !== undefined) {
      try {
        Ledger.fromJSON(parsed.data.ledger);
      } catch (err) {
        throw new StateError(
          `state file ${this.path} holds books that do not balance (${(err as Error).message}): refusing to trade`,
        );
      }
    }
    return parsed.data;
  }

  async write(data: ClientState): Promise<void> {
    await writeFileDurable(this.path, JSON.stringify(data));
  }
}

function describe(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

export type StateStore = Low<ClientState>;

export interface StateStoreOptions {
  /** The streams the device follows (config `settings.streams`): resume points of others are dropped on load. */
  streams?: readonly string[];
  logger?: Logger;
}

/**
 * Opens (or creates) the device's state file. Anything that makes it unusable (unreadable, a
 * folder, not JSON, not the schema, unbalanced books, another device's) is a StateError: the
 * device refuses to trade (exit 3) until someone looks.
 */
export async function openStateStore(
  path: string,
  deviceId: string,
  options: StateStoreOptions = {},
): Promise<StateStore> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' || code === 'ENOTDIR' ? `${dirname(path)} is not a folder` : describe(err);
    throw new StateError(`state file ${path} cannot be created (${why}): refusing to trade`);
  }
  const db = new Low(new DurableJsonAdapter(path, options), emptyState(deviceId));
  await db.read();
  if (db.data.deviceId !== deviceId) {
    throw new StateError(
      `state file ${path} belongs to device ${db.data.deviceId}, not ${deviceId}: refusing to trade`,
    );
  }
  return db;
}
