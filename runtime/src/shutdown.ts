import type { Logger } from 'pino';
import { EXIT } from './exit-codes.js';

export type Closer = () => Promise<void> | void;

/**
 * Runs the closers in reverse order of registration on SIGINT/SIGTERM (once), then exits.
 * A second signal, or closers taking longer than `graceMs`, exits at once.
 */
export function handleShutdown(logger: Logger, closers: Closer[], graceMs = 10_000): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      for (const close of [...closers].reverse()) {
        try {
          await close();
        } catch (err) {
          logger.error({ err }, 'error while shutting down');
        }
      }
    })();
    return stopping;
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(EXIT.failure);
    }
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ graceMs }, 'shutdown took too long: exiting');
      process.exit(EXIT.failure);
    }, graceMs);
    timer.unref();
    void stop().then(() => process.exit(EXIT.ok));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return stop;
}
