import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './config.js';

/**
 * How every process reaches a production Kafka: TLS and SASL/SCRAM, from the environment, the
 * same way in each shell (control server, gateway, datafeed, `npm start`). The result is spread
 * into `createKafkaBus` options. docs/bus-security.md says which principal gets which ACLs.
 *
 * Variables (each documented in docs/bus-security.md): `KAFKA_SSL`, `KAFKA_SSL_CA_FILE` or
 * `KAFKA_SSL_CA` (PEM text), `KAFKA_SSL_CERT_FILE`/`KAFKA_SSL_CERT` with `KAFKA_SSL_KEY_FILE`/
 * `KAFKA_SSL_KEY` (mTLS), `KAFKA_SSL_REJECT_UNAUTHORIZED`, `KAFKA_SASL_MECHANISM`
 * (scram-sha-256 or scram-sha-512), `KAFKA_SASL_USERNAME`, and `KAFKA_SASL_PASSWORD_FILE` or
 * `KAFKA_SASL_PASSWORD`. Empty means unset.
 *
 * Every mistake is a ConfigError naming the variable (exit 2 through `exitOnConfigError`). The
 * password is never in a message, and the logger redacts `password` and TLS `key` fields.
 */
export interface KafkaSecurity {
  ssl?: KafkaTls;
  sasl?: KafkaSasl;
}

export interface KafkaTls {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized: boolean;
}

export interface KafkaSasl {
  mechanism: 'scram-sha-256' | 'scram-sha-512';
  username: string;
  password: string;
}

const flag = (name: string) =>
  z
    .enum(['true', 'false', '1', '0'], { error: `${name} must be true or false` })
    .transform((v) => v === 'true' || v === '1')
    .optional();

const pemText = z.string().regex(/-----BEGIN [A-Z0-9 ]+-----/, 'is not PEM (no -----BEGIN ...----- line)');

const Env = z.object({
  KAFKA_SSL: flag('KAFKA_SSL'),
  KAFKA_SSL_CA: pemText.optional(),
  KAFKA_SSL_CA_FILE: z.string().min(1).optional(),
  KAFKA_SSL_CERT: pemText.optional(),
  KAFKA_SSL_CERT_FILE: z.string().min(1).optional(),
  KAFKA_SSL_KEY: pemText.optional(),
  KAFKA_SSL_KEY_FILE: z.string().min(1).optional(),
  KAFKA_SSL_REJECT_UNAUTHORIZED: flag('KAFKA_SSL_REJECT_UNAUTHORIZED'),
  KAFKA_SASL_MECHANISM: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(
      z.enum(['scram-sha-256', 'scram-sha-512'], {
        error: 'must be scram-sha-256 or scram-sha-512 (PLAIN would send the password itself: refused)',
      }),
    )
    .optional(),
  KAFKA_SASL_USERNAME: z.string().min(1).max(255).optional(),
  // Never echoed: zod's messages for these say what is wrong, not what was given.
  KAFKA_SASL_PASSWORD: z.string().min(1).max(1024).optional(),
  KAFKA_SASL_PASSWORD_FILE: z.string().min(1).optional(),
});

type Env = z.infer<typeof Env>;

/** Reads the Kafka security settings from `env` (default `process.env`); throws ConfigError. */
export function kafkaSecurityFromEnv(
  env: Record<string, string | undefined> = process.env,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): KafkaSecurity {
  const issues: string[] = [];
  // Empty means unset, as a shell's `VAR=` does.
  const given = Object.fromEntries(
    Object.keys(Env.shape).flatMap((k) => (env[k] ? [[k, env[k]]] : [])),
  ) as Record<string, string>;
  const parsed = Env.safeParse(given);
  if (!parsed.success) {
    for (const i of parsed.error.issues) issues.push(`${i.path.join('.')}: ${i.message}`);
    throw problem(issues);
  }
  const e = parsed.data;
  const fromFile = (name: keyof Env, path: string | undefined, pem: boolean): string | undefined => {
    if (path === undefined) return undefined;
    let text: string;
    try {
      text = readFile(path);
    } catch (err) {
      issues.push(
        `${name}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
      return undefined;
    }
    if (pem && !pemText.safeParse(text).success)
      issues.push(`${name}: ${path} is not PEM (no -----BEGIN ...----- line)`);
    return text;
  };
  const oneOf = (text: keyof Env, file: keyof Env): void => {
    if (e[text] !== undefined && e[file] !== undefined)
      issues.push(`${text} and ${file}: give one, not both`);
  };

  oneOf('KAFKA_SSL_CA', 'KAFKA_SSL_CA_FILE');
  oneOf('KAFKA_SSL_CERT', 'KAFKA_SSL_CERT_FILE');
  oneOf('KAFKA_SSL_KEY', 'KAFKA_SSL_KEY_FILE');
  oneOf('KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE');
  const ca = e.KAFKA_SSL_CA ?? fromFile('KAFKA_SSL_CA_FILE', e.KAFKA_SSL_CA_FILE, true);
  const cert = e.KAFKA_SSL_CERT ?? fromFile('KAFKA_SSL_CERT_FILE', e.KAFKA_SSL_CERT_FILE, true);
  const key = e.KAFKA_SSL_KEY ?? fromFile('KAFKA_SSL_KEY_FILE', e.KAFKA_SSL_KEY_FILE, true);
  if ((cert === undefined) !== (key === undefined))
    issues.push(
      'KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE: a client certificate needs its key, and a key its certificate',
    );

  const sslDetails = Object.keys(given).filter((k) => k.startsWith('KAFKA_SSL_'));
  if (e.KAFKA_SSL === false && sslDetails.length > 0)
    issues.push(`KAFKA_SSL: false, yet ${sslDetails.join(', ')} ${sslDetails.length > 1 ? 'are' : 'is'} set`);
  const ssl = e.KAFKA_SSL ?? sslDetails.length > 0;

  const saslDetails = ['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD_FILE'].filter(
    (k) => k in given,
  );
  let sasl: KafkaSasl | undefined;
  if (e.KAFKA_SASL_MECHANISM) {
    if (!e.KAFKA_SASL_USERNAME) issues.push('KAFKA_SASL_USERNAME: required with KAFKA_SASL_MECHANISM');
    let password = e.KAFKA_SASL_PASSWORD;
    if (e.KAFKA_SASL_PASSWORD_FILE !== undefined) {
      // One line; the newline an editor or `echo` leaves is not part of it.
      password = fromFile('KAFKA_SASL_PASSWORD_FILE', e.KAFKA_SASL_PASSWORD_FILE, false)?.replace(
        /\r?\n$/,
        '',
      );
      if (password === '') issues.push(`KAFKA_SASL_PASSWORD_FILE: ${e.KAFKA_SASL_PASSWORD_FILE} is empty`);
    } else if (password === undefined) {
      issues.push('KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE: required with KAFKA_SASL_MECHANISM');
    }
    if (e.KAFKA_SASL_USERNAME && password)
      sasl = { mechanism: e.KAFKA_SASL_MECHANISM, username: e.KAFKA_SASL_USERNAME, password };
  } else if (saslDetails.length > 0) {
    issues.push(
      `KAFKA_SASL_MECHANISM: required with ${saslDetails.join(', ')} (scram-sha-256 or scram-sha-512)`,
    );
  }

  if (issues.length > 0) throw problem(issues);
  return {
    ...(ssl
      ? {
          ssl: {
            ...(ca !== undefined ? { ca } : {}),
            ...(cert !== undefined ? { cert } : {}),
            ...(key !== undefined ? { key } : {}),
            rejectUnauthorized: e.KAFKA_SSL_REJECT_UNAUTHORIZED ?? true,
          },
        }
      : {}),
    ...(sasl ? { sasl } : {}),
  };
}

function problem(issues: string[]): ConfigError {
  return new ConfigError(`invalid Kafka security configuration:\n  - ${issues.join('\n  - ')}`, issues);
}
