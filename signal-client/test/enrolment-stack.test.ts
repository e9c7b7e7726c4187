/**
 * An enrolled device against the real gateway (the stack of stack.ts): it connects with its
 * credential and the proof signed by its device key, and acts on a signal; the same credential
 * without the key (copied off the device) is refused at the upgrade.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import t from 'tap';
import { exportPrivateKeyPem, generateSigner, issueDeviceToken, publicKeyOf } from '@appliance/protocol';
import { waitFor } from '@appliance/test-kit';
import { parseClientConfig } from '../src/cli/config-file.js';
import { generateWgKeyPair, resolveEnrolment } from '../src/enrolment/index.js';
import { GatewayConnection } from '../src/gateway-connection.js';
import { createBinanceExecutor, createSignalClient, openStateStore } from '../src/index.js';
import { startStack } from './stack.js';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

t.test('an enrolled device connects to the gateway with its proof and acts on a signal', async (t) => {
  const stack = await startStack(t);
  const dir = mkdtempSync(join(tmpdir(), 'enrolled-'));
  const sd = join(dir, 'state');
  mkdirSync(sd, { mode: 0o700 });
  const id = 'dev-enrolled';
  const key = generateSigner();
  const wg = generateWgKeyPair();
  writeFileSync(join(sd, 'device-key.pem'), exportPrivateKeyPem(key), { mode: 0o600 });
  writeFileSync(join(sd, 'wg-private.key'), `${wg.privateKey}\n`, { mode: 0o600 });
  const {
    gatewayUrl,
    token: _token,
    signalKeys,
    controlKeys,
    ...rest
  } = await stack.deviceConfig(id, join(dir, 'device.json'));
  const credential = issueDeviceToken(
    { sub: id, scope: 'family', iat: Date.now(), ttlMs: 3_600_000, cnf: publicKeyOf(key) },
    stack.control,
  );
  writeFileSync(
    join(sd, 'enrolment.json'),
    JSON.stringify({
      v: 1,
      enrolUrl: 'https://127.0.0.1:9',
      pin: 'ab'.repeat(32),
      grant: {
        deviceId: id,
        profile: 'family',
        tunnel: {
          address: '10.77.0.9',
          allowedIps: ['10.77.0.0/16'],
          concentratorPublicKey: generateWgKeyPair().publicKey,
          endpoint: 'hub.example:51820',
          persistentKeepaliveS: 25,
        },
        gatewayUrl,
        signalKeys,
        controlKeys,
        credential,
        credentialExpiresAt: Date.now() + 3_600_000,
        rotateKeys: false,
      },
      enrolledAt: Date.now(),
    }),
    { mode: 0o600 },
  );
  const file = parseClientConfig({ ...rest, enrolment: { stateDir: sd, wgInterface: false } });
  const { config, tls, enrolled } = await resolveEnrolment(file, { logger });
  const store = await openStateStore(config.stateFile, id);
  const client = createSignalClient({
    config,
    store,
    exchange: createBinanceExecutor({ ...stack.account(), paperUrl: stack.paperUrl }),
    logger,
    gatewayTls: tls,
    credentials: enrolled!,
  });
  const decisions: unknown[] = [];
  client.on('decision', (d) => decisions.push(d));
  await client.start();
  t.teardown(() => client.stop());
  await waitFor(() => client.connected, 'the enrolled device connected');
  await stack.signal('buy', 40_000);
  await waitFor(() => decisions.length > 0, 'a decision on the signal');

  // The credential alone, without a proof from the device key: refused at the upgrade.
  const copied = new GatewayConnection({
    url: gatewayUrl,
    token: credential,
    logger,
    hello: () => ({ type: 'hello', deviceId: id, version: 't', resume: {} }),
    onFrame: () => undefined,
    backoffBaseMs: 20,
    backoffMaxMs: 50,
  });
  t.teardown(() => copied.stop());
  copied.start();
  await waitFor(() => copied.lastFailure !== undefined, 'a refusal');
  t.match(copied.lastFailure, /refused the connection \(HTTP 401\)/);
  t.equal(copied.connected, false);
});
