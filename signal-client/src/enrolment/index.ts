import { ConfigError } from '@appliance/runtime';
import { ClientConfig, type DeviceConfigFile } from '../config.js';
import type { ConnectionTls } from '../gateway-connection.js';
import { GatewayTlsConfig, loadGatewayTls } from '../gateway-tls.js';
import { EnrolledDevice, type EnrolledDeviceOptions } from './renewal.js';

export { enrol, readTicket, EnrolError } from './enrol.js';
export { EnrolmentClientError } from './https.js';
export { EnrolmentRecord, STATE_FILES, generateWgKeyPair, wgPublicKey } from './files.js';
export { EnrolledDevice } from './renewal.js';

/** A device's configuration as it runs: its connection, and for an enrolled device its live credential. */
export interface ResolvedConfig {
  config: ClientConfig;
  /** TLS options for the gateway connection (`gatewayTls` loaded, the enrolment's pin added). */
  tls: ConnectionTls;
  /** Present for an enrolled device: the credential to read at each attempt, renewed in the background. */
  enrolled?: EnrolledDevice;
}

const problem = (issue: string): ConfigError =>
  new ConfigError(`invalid signal-client configuration:\n  - ${issue}`, [issue]);

/**
 * Makes the configuration the client runs with. Inline: as the file says. Enrolled: the gateway
 * URL, the credential, the pinned signal and control keys come from `enrolment.json`, the device
 * key from `device-key.pem`, and the gateway certificate's pin from the grant: with
 * `gatewayTls.caFile` it is checked on top of the chain, without it it is the only trust anchor.
 * Problems are ConfigErrors (exit 2): not enrolled (run `signal-client enrol`), another device's
 * state folder, files unreadable.
 */
export async function resolveEnrolment(
  file: DeviceConfigFile,
  opts: Pick<EnrolledDeviceOptions, 'logger' | 'now' | 'random' | 'runWg' | 'timeoutMs'>,
): Promise<ResolvedConfig> {
  const { enrolment, ...rest } = file;
  if (enrolment === undefined) {
    const config = ClientConfig.parse(rest);
    return { config, tls: loadGatewayTls(config.gatewayTls) };
  }
  let device: EnrolledDevice;
  try {
    device = await EnrolledDevice.open({
      stateDir: enrolment.stateDir,
      renewCheckMs: enrolment.renewCheckMs,
      wgInterface: enrolment.wgInterface,
      ...opts,
    });
  } catch (err) {
    throw problem(`enrolment.stateDir: ${(err as Error).message}`);
  }
  const grant = device.grant;
  if (file.deviceId !== undefined && grant.deviceId !== file.deviceId)
    throw problem(
      `deviceId: the config says ${file.deviceId} but ${enrolment.stateDir} was enrolled as ${grant.deviceId}`,
    );
  const wss = grant.gatewayUrl.startsWith('wss://');
  if (file.gatewayTls && !wss)
    throw problem(
      `gatewayTls: the enrolment's gateway URL ${grant.gatewayUrl} is ws://: there is no TLS to check`,
    );
  const pin = wss ? grant.gatewayCertSha256 : undefined;
  // With a CA file the grant's pin joins the normal check; without one it is the only anchor.
  const gatewayTls =
    pin !== undefined && file.gatewayTls?.caFile !== undefined
      ? GatewayTlsConfig.parse({ ...file.gatewayTls, certSha256: pin })
      : file.gatewayTls;
  const parsed = ClientConfig.safeParse({
    ...rest,
    deviceId: grant.deviceId,
    ...(gatewayTls !== undefined && { gatewayTls }),
    gatewayUrl: grant.gatewayUrl,
    token: grant.credential,
    signalKeys: grant.signalKeys,
    controlKeys: grant.controlKeys,
  });
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw problem(
      `enrolment.stateDir: the grant in ${enrolment.stateDir} does not fit: ${i?.path.join('.')}: ${i?.message}`,
    );
  }
  const config = parsed.data;
  const tls: ConnectionTls = loadGatewayTls(config.gatewayTls);
  if (pin !== undefined && file.gatewayTls?.caFile === undefined) tls.pinnedLeafSha256 = pin;
  return { config, tls, enrolled: device };
}
