import { wgQuickIssues } from './conf.js';
import { WireguardError } from './errors.js';
import { run, withPrivateFile } from './exec.js';

/**
 * An interface name no interface can have: Linux refuses '/' in one (and wireguard-go's socket
 * would be /var/run/wireguard/check/none.sock, in a folder that is never made). `wg setconf` on
 * it parses the whole config first and only then fails to reach the interface, so its parse
 * verdict comes without touching, or needing, any interface, namespace or root.
 */
const NO_SUCH_INTERFACE = 'check/none';

/** wg's words once the config parsed and only the (absent) interface could not take it. */
const PARSED = /^Unable to modify interface:/m;

/** `wg-quick strip` of a config, via a private file named as wg-quick requires (`<if>.conf`). */
export async function stripWgConf(text: string, name = 'wg0'): Promise<string> {
  // Private (0600): the config may hold a private key, and wg-quick warns about a readable one.
  return withPrivateFile(`${name}.conf`, text, async (file) => {
    try {
      return (await run('wg-quick', ['strip', file])).stdout;
    } catch (err) {
      if (WireguardError.is(err, 'E_WG_COMMAND'))
        throw new WireguardError('E_WG_INVALID', `wg-quick refused the configuration:\n${err.output}`, {
          output: err.output,
        });
      throw err;
    }
  });
}

/**
 * Checks a wg-quick config with the real tools: `wg-quick strip` must accept it, `wg` must parse
 * what remains (keys, endpoints, allowed IPs, every line), and wg-quick's own Address lines must
 * be addresses. Resolves with the stripped config (what `wg setconf`/`syncconf` takes); throws
 * E_WG_INVALID with what the tool printed, or E_WG_NOT_FOUND. Note that wg resolves an Endpoint
 * given as a host name while parsing (as `wg-quick up` would): a name that does not resolve here
 * is refused, and checking it asks the resolver.
 */
export async function checkWgConf(text: string): Promise<string> {
  const stripped = await stripWgConf(text);
  const own = wgQuickIssues(text);
  if (own.length)
    throw new WireguardError('E_WG_INVALID', `wg-quick would refuse the configuration:\n${own.join('\n')}`, {
      output: own.join('\n'),
    });
  try {
    await withPrivateFile('stripped.conf', stripped, (file) =>
      run('wg', ['setconf', NO_SUCH_INTERFACE, file]),
    );
  } catch (err) {
    if (!WireguardError.is(err, 'E_WG_COMMAND')) throw err;
    if (!PARSED.test(err.output) || /parsing error/i.test(err.output))
      throw new WireguardError('E_WG_INVALID', `wg refused the configuration:\n${err.output}`, {
        output: err.output,
      });
    return stripped;
  }
  // Exit 0 would mean an interface took it: impossible with a name containing '/'.
  throw new WireguardError('E_WG_COMMAND', `wg setconf ${NO_SUCH_INTERFACE} unexpectedly succeeded`);
}
