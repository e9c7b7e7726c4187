/**
 * Issue #14: a device's profile is the `scope` of its own device token, bound at registration.
 * A config `profile` that disagrees stops the device at start (exit 2, one line); absent, the
 * token decides; the control messages it acts on follow from it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { exportPublicKey, generateSigner, issueDeviceToken } from '@appliance/protocol';
import { EXIT } from '@appliance/runtime';
import { hasStackTrace, runCli } from '@appliance/test-kit';
import { deviceProfile } from '../src/profile.js';

const control = generateSigner();
const controlKeys = [exportPublicKey(control.publicKey)];
const token = (scope: string, ttlMs = 60_000, iat = Date.now()) =>
  issueDeviceToken({ sub: 'dev-1', scope, iat, ttlMs }, control);

t.test('the profile is the token’s scope; a config that disagrees is refused', async (t) => {
  t.same(deviceProfile({ token: token('beta'), controlKeys }), { profile: 'beta', from: 'token' });
  t.same(deviceProfile({ token: token('beta'), controlKeys, profile: 'beta' }), {
    profile: 'beta',
    from: 'token',
  });
  t.same(deviceProfile({ token: token('mandate:acme'), controlKeys }), {
    profile: 'mandate:acme',
    from: 'token',
  });
  t.same(
    deviceProfile({ token: token('beta', 1, 0), controlKeys }),
    { profile: 'beta', from: 'token' },
    'an expired token still says who the device is (the gateway refuses it)',
  );
  t.throws(() => deviceProfile({ token: token('beta'), controlKeys, profile: 'family' }), {
    code: 'E_CONFIG',
    message:
      'invalid signal-client configuration: profile: the config says family but the device token was issued for beta; remove profile from the config (the token decides)',
  });
  // A token no pinned key signed gets the device nowhere: the config (or family) is all there is.
  const forged = issueDeviceToken(
    { sub: 'dev-1', scope: 'beta', iat: Date.now(), ttlMs: 60_000 },
    generateSigner(),
  );
  t.same(deviceProfile({ token: forged, controlKeys }), { profile: 'family', from: 'default' });
  t.same(deviceProfile({ token: 'garbage-token', controlKeys, profile: 'beta' }), {
    profile: 'beta',
    from: 'config',
  });
});

t.test(
  'signal-client run exits 2 with one line when the config’s profile disagrees with the token',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'device-profile-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        deviceId: 'dev-1',
        gatewayUrl: 'ws://127.0.0.1:1',
        token: token('beta'),
        profile: 'family',
        signalKeys: controlKeys,
        controlKeys,
        stateFile: join(dir, 'state.json'),
        statusPort: 0,
      }),
    );
    const r = runCli('signal-client/src/main.ts', ['run', '--config', file], {
      SIGNAL_CLIENT_CONFIG: undefined,
      NOTIFY_SOCKET: undefined,
      LOG_LEVEL: 'fatal',
      EXCHANGE_API_KEY: 'k'.repeat(20),
      EXCHANGE_API_SECRET: 's'.repeat(30),
    });
    t.equal(r.status, EXIT.config);
    t.equal(
      r.stderr,
      'invalid signal-client configuration: profile: the config says family but the device token was issued for beta; remove profile from the config (the token decides)\n',
    );
    t.notOk(hasStackTrace(r.stderr));
  },
);
