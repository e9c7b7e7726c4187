import { KeyRing, readDeviceToken } from '@appliance/protocol';
import { ConfigError } from '@appliance/runtime';
import type { ClientConfig } from './config.js';

/** Where the device's profile came from: its verified token, or (token unreadable) its config. */
export interface DeviceProfile {
  profile: string;
  from: 'token' | 'config' | 'default';
}

/**
 * The device's profile is the `scope` claim of its own device token, bound at registration and
 * signed by the control server: the token is checked against the pinned control keys (its
 * expiry is the gateway's business). A `profile` in the config that disagrees is refused
 * (ConfigError: exit 2, one line); absent, the token's applies. A token that does not verify
 * gets the device nowhere (the gateway refuses it), so the config's profile, or `family`, is
 * used for what little the device can do without a gateway.
 */
export function deviceProfile(
  config: Pick<ClientConfig, 'token' | 'controlKeys' | 'profile'>,
): DeviceProfile {
  let scope: string;
  try {
    scope = readDeviceToken(config.token, KeyRing.of(...config.controlKeys)).scope;
  } catch {
    return config.profile === undefined
      ? { profile: 'family', from: 'default' }
      : { profile: config.profile, from: 'config' };
  }
  if (config.profile !== undefined && config.profile !== scope) {
    const issue = `profile: the config says ${config.profile} but the device token was issued for ${scope}; remove profile from the config (the token decides)`;
    throw new ConfigError(`invalid signal-client configuration: ${issue}`, [issue]);
  }
  return { profile: scope, from: 'token' };
}
