import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Paths pino replaces with "[redacted]" before a line is written. Secrets must never reach a
 * log even when someone logs a whole config or request object by mistake.
 */
export const REDACT_PATHS = [
  'apiKey',
  'secret',
  'token',
  'password',
  'privateKey',
  '*.apiKey',
  '*.secret',
  '*.token',
  '*.password',
  '*.privateKey',
  '*.*.apiKey',
  '*.*.secret',
  '*.*.token',
  '*.*.password',
  // A Kafka TLS client key (runtime's KafkaSecurity), logged alone or inside an options object.
  'ssl.key',
  '*.ssl.key',
  'headers.authorization',
  'headers["x-mbx-apikey"]',
  'req.headers.authorization',
  'req.headers["x-mbx-apikey"]',
  'req.headers.cookie',
];

export interface LoggerConfig {
  name: string;
  level?: LoggerOptions['level'];
  destination?: DestinationStream;
}

export function createLogger({ name, level, destination }: LoggerConfig): Logger {
  const options: LoggerOptions = {
    name,
    level: level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { pid: process.pid },
  };
  return destination ? pino(options, destination) : pino(options);
}
