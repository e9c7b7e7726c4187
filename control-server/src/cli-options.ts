import { DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS } from '@appliance/protocol';
import type { ShellOption } from '@appliance/runtime';

/** Every control-server option: its flag, its variable, what it does and its default (`--help` prints them). */
export const CONTROL_SERVER_OPTIONS: ShellOption[] = [
  {
    flag: '--port <n>',
    env: 'PORT',
    description: 'HTTP API and dashboard port (0 = any free port)',
    default: '8090',
  },
  {
    flag: '--paper-port <n>',
    env: 'PAPER_PORT',
    description: 'paper exchange port (0 = any free port)',
    default: '8091',
  },
  { flag: '--host <addr>', env: 'HOST', description: 'listen address', default: '127.0.0.1' },
  {
    flag: '--kafka <brokers>',
    env: 'KAFKA_BROKERS',
    description: 'Kafka bootstrap brokers, comma separated',
    default: '',
  },
  {
    flag: '--signing-key-file <file>',
    env: 'CONTROL_SIGNING_KEY_FILE',
    description: 'Ed25519 PKCS#8 PEM key that signs control messages and device tokens',
    default: '',
  },
  {
    flag: '--data-dir <dir>',
    env: 'CONTROL_DATA_DIR',
    description: 'where the database (control.sqlite: registry, eligibility history, overrides) is kept',
    default: '.data/control',
  },
  {
    flag: '--eligibility <spec...>',
    env: 'CONTROL_ELIGIBILITY',
    separator: ' ',
    description:
      'eligible symbols per stream, e.g. ema-cross.1h=BTC/USDT,ETH/USDT, space separated in the variable',
    default: [],
  },
  {
    flag: '--no-paper',
    env: 'CONTROL_PAPER',
    key: 'paper',
    description: 'do not run the paper exchange; CONTROL_PAPER=0 does the same',
  },
  {
    flag: '--allowed-hosts <names...>',
    env: 'CONTROL_ALLOWED_HOSTS',
    description: 'Host names the API answers besides localhost, 127.0.0.1, [::1] and --host',
    default: [],
  },
  {
    flag: '--simulator-key <kid=file...>',
    env: 'CONTROL_SIMULATOR_KEYS',
    key: 'simulatorKeys',
    description:
      "simulator nodes' public keys, KID=FILE (base64url or PEM public key): only results one signed change eligibility",
    default: [],
  },
  {
    flag: '--eligibility-approval <stream=mode...>',
    env: 'CONTROL_ELIGIBILITY_APPROVAL',
    description:
      'per stream, whether simulator changes apply at once (auto, the default) or wait for an operator (manual); * for every other stream',
    default: [],
  },
  {
    flag: '--simulator-max-age-ms <ms>',
    env: 'CONTROL_SIMULATOR_MAX_AGE_MS',
    description: 'oldest a signed simulator submission may be when it arrives',
    default: String(DEFAULT_SIMULATOR_RESULT_MAX_AGE_MS),
  },
  {
    flag: '--feed-key <key...>',
    env: 'CONTROL_FEED_KEYS',
    key: 'feedKeys',
    description:
      "datafeeds' public key(s): the paper exchange and the breaker take only candles and feed reports signed by one",
    default: [],
  },
  {
    flag: '--breaker-config <file>',
    env: 'CONTROL_BREAKER_CONFIG',
    description:
      "the circuit breaker's thresholds and windows, a JSON file of BreakerConfig fields (trading-core/README.md); absent: the defaults",
    default: '',
  },
  {
    flag: '--enrol-url <url>',
    env: 'CONTROL_ENROL_URL',
    description:
      "the public enrolment endpoint as devices reach it, https://host[:port] (HAProxy's enrolment frontend); enrolment is on only with all of --enrol-url, --enrol-cert, --tunnel-pool, --tunnel-endpoint, --tunnel-public-key, --tunnel-gateway-url",
    default: '',
  },
  {
    flag: '--enrol-cert <file>',
    env: 'CONTROL_ENROL_CERT',
    description: 'the PEM certificate that endpoint serves: devices pin its SHA-256',
    default: '',
  },
  {
    flag: '--tunnel-pool <cidr>',
    env: 'CONTROL_TUNNEL_POOL',
    description:
      "the fleet's WireGuard subnet, e.g. 10.77.0.0/16: the hub is its first host, devices get the next never-used address",
    default: '',
  },
  {
    flag: '--tunnel-endpoint <host:port>',
    env: 'CONTROL_TUNNEL_ENDPOINT',
    description: "the concentrator's WireGuard endpoint as devices reach it",
    default: '',
  },
  {
    flag: '--tunnel-public-key <key>',
    env: 'CONTROL_TUNNEL_PUBLIC_KEY',
    description: "the concentrator's WireGuard public key (wg pubkey)",
    default: '',
  },
  {
    flag: '--tunnel-gateway-url <url>',
    env: 'CONTROL_TUNNEL_GATEWAY_URL',
    description:
      "the gateway inside the tunnel, ws(s)://<hub tunnel address>:port/ (HAProxy's tunnel-side frontend)",
    default: '',
  },
  {
    flag: '--tunnel-gateway-cert <file>',
    env: 'CONTROL_TUNNEL_GATEWAY_CERT',
    description: 'the PEM certificate of that frontend, pinned by devices (required with wss://)',
    default: '',
  },
  {
    flag: '--wg-interface <name>',
    env: 'CONTROL_WG_INTERFACE',
    description:
      "the concentrator's WireGuard interface on this host: peers are set with wg as devices enrol, rotate and are revoked, and reconciled at start (absent: no peer is changed)",
    default: '',
  },
  {
    flag: '--credential-ttl <duration>',
    env: 'CONTROL_CREDENTIAL_TTL',
    description: 'life of device credentials and tokens: milliseconds or 30d, 12h, 90m',
    default: '30d',
  },
  {
    flag: '--key-overlap-ms <ms>',
    env: 'CONTROL_KEY_OVERLAP_MS',
    description:
      'how long a device key replaced by a rotation still renews, before its kid is published as revoked',
    default: String(10 * 60_000),
  },
  {
    flag: '--haproxy-socket <file>',
    env: 'CONTROL_HAPROXY_SOCKET',
    description:
      "HAProxy's admin socket (stats socket, level admin): a revoked device's tunnel address is denied there at once (add acl)",
    default: '',
  },
  {
    flag: '--haproxy-deny-file <file>',
    env: 'CONTROL_HAPROXY_DENY_FILE',
    description:
      "the cluster description's denyList.file: revoked tunnel addresses are appended, so a restarted HAProxy still refuses them",
    default: '',
  },
  {
    flag: '--peg-symbol <pair>',
    env: 'CONTROL_PEG_SYMBOL',
    description:
      "a pair of a second stablecoin against the quote (USDC/USDT): its candles are read as the quote's peg, not traded",
  },
];
