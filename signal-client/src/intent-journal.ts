import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import { Intent } from './state.js';
import { errorClass } from '@appliance/errors';

/**
 * The intent journal: an append-only file beside the state file (`state.json.intents`) that
 * makes an intent durable before its order is sent with one write and one fdatasync, instead of
 * rewriting the whole state (fsync, rename, fsync of the folder). The state file stays the
 * snapshot: it records the sequence number of the last journal record it includes
 * (`journalSeq`), so on start only newer records are replayed over it, and the journal is
 * emptied (compacted) once a snapshot covers all of it.
 *
 * Each record is framed: payload length (u32 LE), CRC-32 of the payload (u32 LE), payload
 * (UTF-8 JSON `{seq, intent}`). A crash mid-append leaves a torn tail, which recovery cuts
 * off; a bad record with good data after it is not a crash's doing and stops the device.
 */

export const JOURNAL_HEADER_BYTES = 8;
/** No intent comes near this; a larger length is damage, not a record. */
const MAX_JOURNAL_RECORD_BYTES = 1 << 20;

export interface JournalRecord {
  seq: number;
  intent: Intent;
}

export interface JournalScan {
  records: JournalRecord[];
  /** Bytes of whole, valid records from the start: where a torn tail begins. */
  validBytes: number;
  /** The file's size (0 when it does not exist). */
  size: number;
}

/** A record in the middle of the journal is damaged: `at` is its byte offset. */
export class JournalCorruptError extends errorClass('JournalCorruptError', {
  E_STATE_JOURNAL_CORRUPT: 'the intent journal is damaged before its end (not a torn write)',
}) {
  constructor(
    readonly at: number,
    readonly why: string,
  ) {
    super('E_STATE_JOURNAL_CORRUPT', `record at byte ${at} ${why}`);
  }
}

/** The journal's path for a state file. */
export function intentJournalPath(statePath: string): string {
  return `${statePath}.intents`;
}

export function frameRecord(record: JournalRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const frame = Buffer.allocUnsafe(JOURNAL_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  payload.copy(frame, JOURNAL_HEADER_BYTES);
  return frame;
}

/**
 * Reads every whole record of a journal's bytes. A crash can only tear the last append: a
 * damaged record after which no whole record follows (cut short, its last page not written,
 * blocks allocated but never written) is a torn tail, and reading stops before it. A damaged
 * record with a whole record after it, or with a good length and more data after it, is
 * damage a crash cannot cause: JournalCorruptError.
 */
export function scanJournal(bytes: Buffer): JournalScan {
  const records: JournalRecord[] = [];
  let at = 0;
  const torn = () => ({ records, validBytes: at, size: bytes.length });
  while (at < bytes.length) {
    if (bytes.length - at < JOURNAL_HEADER_BYTES) return torn();
    const length = bytes.readUInt32LE(at);
    const end = at + JOURNAL_HEADER_BYTES + length;
    if (length === 0 || length > MAX_JOURNAL_RECORD_BYTES || end > bytes.length) {
      // A flipped length must not pass for a torn tail and take the records after it along.
      if (!wholeRecordAfter(bytes, at + 1)) return torn();
      throw new JournalCorruptError(at, `has an impossible length (${length} bytes)`);
    }
    const payload = bytes.subarray(at + JOURNAL_HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32LE(at + 4)) {
      if (zerosFrom(bytes, end)) return torn();
      throw new JournalCorruptError(at, 'fails its checksum and is followed by more records');
    }
    records.push(parseRecord(payload, at));
    at = end;
  }
  return torn();
}

function zerosFrom(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Whether a whole record (a possible length and a matching checksum) starts anywhere from `from`. */
function wholeRecordAfter(bytes: Buffer, from: number): boolean {
  for (let at = from; at + JOURNAL_HEADER_BYTES < bytes.length; at++) {
    const length = bytes.readUInt32LE(at);
    const end = at + JOURNAL_HEADER_BYTES + length;
    if (length === 0 || length > MAX_JOURNAL_RECORD_BYTES || end > bytes.length) continue;
    if (crc32(bytes.subarray(at + JOURNAL_HEADER_BYTES, end)) === bytes.readUInt32LE(at + 4)) return true;
  }
  return false;
}

/** A record with a good checksum that is not an intent was written wrong: never guessed at. */
function parseRecord(payload: Buffer, at: number): JournalRecord {
  let json: { seq?: unknown; intent?: unknown };
  try {
    json = JSON.parse(payload.toString('utf8')) as typeof json;
  } catch {
    throw new JournalCorruptError(at, 'is not JSON');
  }
  const intent = Intent.safeParse(json?.intent);
  if (!Number.isSafeInteger(json?.seq) || !intent.success)
    throw new JournalCorruptError(at, 'is not an intent record');
  return { seq: json.seq as number, intent: intent.data };
}

/** Reads a journal file; a missing one is empty. */
export async function readJournal(path: string): Promise<JournalScan> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], validBytes: 0, size: 0 };
    throw err;
  }
  try {
    return scanJournal(await fh.readFile());
  } finally {
    await fh.close();
  }
}

/**
 * Makes sure the journal file exists and its name is durable in the folder, so that an append
 * needs only its own fdatasync; cuts a torn tail off (`validBytes`) when there is one.
 */
export async function prepareJournal(path: string, validBytes: number): Promise<void> {
  let created = false;
  let fh: FileHandle;
  try {
    fh = await open(path, 'r+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    fh = await open(path, 'wx', 0o600);
    created = true;
  }
  try {
    if ((await fh.stat()).size > validBytes) {
      await fh.truncate(validBytes);
      await fh.datasync();
    }
  } finally {
    await fh.close();
  }
  if (created) await syncFolder(dirname(path));
}

async function syncFolder(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * The writing end of the journal (one per device process). Every operation runs in turn: an
 * append never interleaves with a compaction that would cut it off.
 */
export class IntentJournal {
  readonly path: string;
  #fh: FileHandle | undefined;
  /** Bytes known to hold whole records: an append that failed half-way is cut back to this. */
  #goodBytes: number;
  #damaged = false;
  /** The last sequence number given out, and the last one durable in the file. */
  #seq: number;
  #durableSeq: number;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(path: string, opts: { bytes: number; lastSeq: number }) {
    this.path = path;
    this.#goodBytes = opts.bytes;
    this.#seq = opts.lastSeq;
    this.#durableSeq = opts.lastSeq;
  }

  /** The sequence number of the last record appended (what a snapshot now includes). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** Bytes in the journal: compaction is worth it past a threshold. */
  get bytes(): number {
    return this.#goodBytes;
  }

  /** Appends the intent as it is now; resolves once it is durable (one fdatasync). */
  append(intent: Intent): Promise<void> {
    const seq = ++this.#seq;
    const frame = frameRecord({ seq, intent });
    return this.#run(async (fh) => {
      this.#damaged = true; // until the write and its sync are done
      await fh.write(frame, 0, frame.length);
      await fh.datasync();
      this.#damaged = false;
      this.#goodBytes += frame.length;
      this.#durableSeq = seq;
    });
  }

  /**
   * Empties the journal once a durable snapshot includes every record up to `snapshotSeq`.
   * Records appended after that snapshot are kept (the compaction waits for a later one).
   */
  compact(snapshotSeq: number): Promise<void> {
    return this.#run(async (fh) => {
      if (this.#durableSeq > snapshotSeq || this.#goodBytes === 0) return;
      await fh.truncate(0);
      await fh.datasync();
      this.#goodBytes = 0;
    });
  }

  close(): Promise<void> {
    return this.#run(async () => {
      const fh = this.#fh;
      this.#fh = undefined;
      await fh?.close();
    }, false);
  }

  #run(op: (fh: FileHandle) => Promise<void>, needsFile = true): Promise<void> {
    const next = this.#chain.then(async () => {
      if (!needsFile) return op(undefined as unknown as FileHandle);
      // Opened on first use: a store opened only to be read holds no file open.
      this.#fh ??= await open(this.path, 'a', 0o600);
      if (this.#damaged) {
        // An append failed part-way: cut it off, or the next record would follow garbage.
        await this.#fh.truncate(this.#goodBytes);
        await this.#fh.datasync();
        this.#damaged = false;
      }
      return op(this.#fh);
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }
}
