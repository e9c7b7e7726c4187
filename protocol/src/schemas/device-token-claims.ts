import { z } from 'zod';
import { Profile } from './control-messages.js';
import { deviceId, epochMs, kid } from './fields.js';
import { PROTOCOL_VERSION } from './limits.js';

/** Device token claims, signed by the control server and checked by gateways without a database. */
export const DeviceTokenClaims = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  sub: deviceId,
  /**
   * The device's profile: `family`, `beta`, or `mandate:<name>` for a managed mandate; bound at
   * registration. Gateways keep scopes apart; the device takes its profile from here.
   */
  scope: Profile,
  iat: epochMs,
  exp: epochMs,
  kid,
  /**
   * Confirmation key (RFC 7800's `cnf`, flattened): the device's Ed25519 public key, base64url.
   * A credential that has one connects only with a proof signed by that key; credentials from
   * enrolment always have one.
   */
  cnf: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/)
    .optional(),
});
export type DeviceTokenClaims = z.infer<typeof DeviceTokenClaims>;
