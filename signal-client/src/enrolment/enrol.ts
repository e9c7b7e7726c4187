import {
  EnrolmentGrant,
  decodeEnrolmentTicket,
  publicKeyOf,
  signDeviceRequest,
  type EnrolRequest,
  type EnrolmentTicket,
} from '@appliance/protocol';
import { errorClass } from '@appliance/errors';
import {
  ensureStateDir,
  fileExists,
  loadOrCreateKeys,
  renderDeviceWgConf,
  statePath,
  writeEnrolmentRecord,
  writeSecretFile,
  type EnrolmentRecord,
} from './files.js';
import { callEnrolment } from './https.js';

const ENROL_ERRORS = {
  E_BAD_ENROLMENT_TOKEN: 'the enrolment token is damaged',
  E_ENROLMENT_TOKEN_EXPIRED: 'the enrolment token has expired',
  E_ALREADY_ENROLLED: 'this state folder is already enrolled',
  E_BAD_GRANT: 'the enrolment endpoint answered a grant that does not fit',
  E_STATE_DIR: 'the state folder cannot be made or written',
} as const;
export type EnrolErrorCode = keyof typeof ENROL_ERRORS;

/** Refusals of the input (exit 2): a damaged or expired token, a folder already enrolled or unusable; E_BAD_GRANT is exit 1. */
export class EnrolError extends errorClass<EnrolErrorCode>('EnrolError', ENROL_ERRORS) {}

export interface EnrolOptions {
  /** The `sa-enrol-1.…` string. */
  token: string;
  stateDir: string;
  now?: () => number;
  timeoutMs?: number;
}

export interface EnrolResult {
  record: EnrolmentRecord;
  /** The keys were already in the folder (a retry after a crash or a refusal). */
  reusedKeys: boolean;
}

/** Reads the token, refusing a damaged one or one past its expiry (with the expiry said). */
export function readTicket(token: string, now: number): EnrolmentTicket {
  let ticket: EnrolmentTicket;
  try {
    ticket = decodeEnrolmentTicket(token);
  } catch (err) {
    throw new EnrolError('E_BAD_ENROLMENT_TOKEN', (err as Error).message);
  }
  if (now >= ticket.exp)
    throw new EnrolError(
      'E_ENROLMENT_TOKEN_EXPIRED',
      `the enrolment token ${ticket.id} for ${ticket.device} expired at ${new Date(ticket.exp).toISOString()}: ask the admin for a new one (provision device token ${ticket.device})`,
    );
  return ticket;
}

/**
 * First boot: makes (or, after a crash, reuses) the device's keys in `stateDir`, written
 * durably BEFORE the request is sent, sends the public ones with the token to `<url>/enrol` over
 * TLS pinned to the ticket's certificate, and writes `enrolment.json` and `wg0.conf` (0600).
 */
export async function enrol(opts: EnrolOptions): Promise<EnrolResult> {
  const now = opts.now ?? Date.now;
  const ticket = readTicket(opts.token, now());
  const dir = opts.stateDir;
  if (await fileExists(statePath(dir, 'enrolment')))
    throw new EnrolError(
      'E_ALREADY_ENROLLED',
      `${statePath(dir, 'enrolment')} exists: this device is enrolled already. To start over as a new enrolment, stop the device and move the folder ${dir} away (its keys are the device's identity), then enrol again`,
    );
  let made: Awaited<ReturnType<typeof loadOrCreateKeys>>;
  try {
    await ensureStateDir(dir);
    made = await loadOrCreateKeys(statePath(dir, 'deviceKey'), statePath(dir, 'wgKey'));
  } catch (err) {
    throw new EnrolError('E_STATE_DIR', `${dir}: ${(err as Error).message}`);
  }
  const { keys, reused } = made;
  const request = signDeviceRequest<EnrolRequest>(
    {
      typ: 'enrol',
      tokenId: ticket.id,
      secret: ticket.secret,
      wgPublicKey: keys.wg.publicKey,
      devicePublicKey: publicKeyOf(keys.deviceKey),
    },
    keys.deviceKey,
    now(),
  );
  const endpoint = {
    url: ticket.url,
    pin: ticket.pin,
    ...(ticket.serverName !== undefined ? { serverName: ticket.serverName } : {}),
  };
  const answer = await callEnrolment(endpoint, '/enrol', request, opts.timeoutMs);
  const grant = parseGrant(answer, 'enrol');
  const record: EnrolmentRecord = {
    v: 1,
    enrolUrl: ticket.url,
    pin: ticket.pin,
    ...(ticket.serverName !== undefined ? { serverName: ticket.serverName } : {}),
    grant,
    enrolledAt: now(),
  };
  await writeSecretFile(statePath(dir, 'wgConf'), renderDeviceWgConf(grant, keys.wg.privateKey));
  // Last: its presence is what says "enrolled".
  await writeEnrolmentRecord(dir, record);
  return { record, reusedKeys: reused };
}

/** The answer of /enrol or /rotate as an EnrolmentGrant, or E_BAD_GRANT naming the first problem. */
export function parseGrant(answer: unknown, what: string): EnrolmentGrant {
  const parsed = EnrolmentGrant.safeParse(answer);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new EnrolError(
      'E_BAD_GRANT',
      `the ${what} answer is not a grant: ${i?.path.join('.') || '(root)'}: ${i?.message}`,
    );
  }
  return parsed.data;
}
