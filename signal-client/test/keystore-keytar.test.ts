import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rejectionOf, requireTool } from '@appliance/test-kit';
import { createKeytarKeystore, loadKeytar } from '../src/keystore/index.js';

// This file runs twice: from tap (outside any D-Bus session: the "unavailable" cases), and
// re-run by itself inside a private session (dbus-run-session) with a fresh, unlocked
// gnome-keyring under a temporary HOME, so it never touches a developer's own keychain.
const IN_SESSION = process.env.KEYSTORE_TEST_DBUS_SESSION === '1';

const KEYS = { apiKey: 'pk-test-0123456789abcdef', secret: 'sk-test-keychain-0123456789' };
const UNREACHABLE =
  'keytar needs a D-Bus session (dbus) with an unlocked Secret Service keyring (gnome-keyring); log in to a desktop session, or set keystore.backend to systemd-creds';

/** Why the tests that need keytar itself are skipped, or false. Under CI it must be built. */
async function keytarMissing(): Promise<string | false> {
  try {
    await loadKeytar();
    return false;
  } catch (err) {
    if (process.env.CI === 'true') {
      throw new Error(
        `keytar is not built, and CI must have it: apt-get install libsecret-1-dev, then npm ci (${(err as Error).message})`,
        { cause: err },
      );
    }
    return 'keytar is not built (apt-get install libsecret-1-dev gnome-keyring dbus, then npm ci)';
  }
}
const noKeytar = await keytarMissing();

if (!IN_SESSION) {
  t.test('keytar that cannot be loaded is E_KEYSTORE_UNAVAILABLE naming what to install', async (t) => {
    const keystore = createKeytarKeystore({
      service: 'signal-appliance-test',
      load: () =>
        Promise.reject(
          new Error('libsecret-1.so.0: cannot open shared object file: No such file or directory'),
        ),
    });
    t.equal(keystore.backend, 'keytar');
    t.equal(
      await rejectionOf(keystore.get()),
      'E_KEYSTORE_UNAVAILABLE: keytar cannot be loaded (libsecret-1.so.0: cannot open shared object file: No such file or directory): install libsecret-1-dev (apt-get install libsecret-1-dev gnome-keyring dbus) and run npm ci to build it, or set keystore.backend to systemd-creds',
    );
  });

  t.test('without a D-Bus session the keychain is E_KEYSTORE_UNAVAILABLE', { skip: noKeytar }, async (t) => {
    // libsecret reads these when called; without both it cannot reach or autolaunch a bus.
    delete process.env.DBUS_SESSION_BUS_ADDRESS;
    delete process.env.DISPLAY;
    const keystore = createKeytarKeystore({ service: 'signal-appliance-test' });
    const expected = `E_KEYSTORE_UNAVAILABLE: the OS keychain cannot be reached (Cannot autolaunch D-Bus without X11 $DISPLAY): ${UNREACHABLE}`;
    t.equal(await rejectionOf(keystore.get()), expected);
    t.equal(await rejectionOf(keystore.set(KEYS)), expected);
    t.equal(await rejectionOf(keystore.remove()), expected);
  });

  const tools =
    requireTool('dbus-run-session', 'dbus') && requireTool('gnome-keyring-daemon', 'gnome-keyring')
      ? false
      : 'dbus-run-session or gnome-keyring-daemon is not installed (apt-get install dbus gnome-keyring)';
  t.test('in a D-Bus session with gnome-keyring', { skip: noKeytar || tools }, async (t) => {
    const home = mkdtempSync(join(tmpdir(), 'keystore-keytar-'));
    // gnome-keyring-daemon --unlock reads the (new) login keyring's password on stdin.
    const script =
      'printf %s test-password | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0" --import tsx "$1"';
    await t.spawn(
      'dbus-run-session',
      ['--', 'sh', '-c', script, process.execPath, fileURLToPath(import.meta.url)],
      {
        env: {
          ...process.env,
          KEYSTORE_TEST_DBUS_SESSION: '1',
          HOME: home,
          XDG_DATA_HOME: join(home, 'data'),
          XDG_CACHE_HOME: join(home, 'cache'),
          XDG_RUNTIME_DIR: home,
        },
      },
    );
  });
} else {
  const service = `signal-appliance-test-${process.pid}`;

  t.test('set, get, replace and remove the keys as one keychain entry', async (t) => {
    const keytar = await loadKeytar();
    const keystore = createKeytarKeystore({ service });
    t.equal(await keystore.get(), null);
    await keystore.set(KEYS);
    t.same(await keystore.get(), KEYS);
    t.equal(
      await keytar.getPassword(service, 'exchange-api'),
      JSON.stringify(KEYS),
      'one entry holds both values',
    );
    const next = { apiKey: 'pk-test-replacement-000', secret: 'sk-test-replacement-0000' };
    await keystore.set(next);
    t.same(await createKeytarKeystore({ service }).get(), next, 'a second keystore sees it');
    await keystore.remove();
    t.equal(await keystore.get(), null);
    await keystore.remove();
  });

  t.test('an entry that is not the keys is E_KEYSTORE_CORRUPT', async (t) => {
    const keytar = await loadKeytar();
    await keytar.setPassword(service, 'exchange-api', 'hunter2');
    t.teardown(() => keytar.deletePassword(service, 'exchange-api'));
    t.equal(
      await rejectionOf(createKeytarKeystore({ service }).get()),
      `E_KEYSTORE_CORRUPT: the keychain entry ${service}/exchange-api does not hold the keys as JSON: store them again with \`signal-client keys set\``,
    );
  });
}
