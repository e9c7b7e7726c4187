/**
 * A cluster description that cannot become a haproxy.cfg. `issues` holds one line per problem
 * (`field.path: what is wrong`), so a caller can show all of them at once.
 */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  readonly code = 'E_CLUSTER';
  constructor(readonly issues: string[]) {
    super(`invalid cluster description:\n  - ${issues.join('\n  - ')}`);
  }
}

export type HaproxyErrorCode = 'E_HAPROXY_NOT_FOUND' | 'E_HAPROXY_INVALID';

/** `haproxy -c` could not be run, or it refused the configuration; `output` is what it printed. */
export class HaproxyError extends Error {
  override readonly name = 'HaproxyError';
  constructor(
    readonly code: HaproxyErrorCode,
    message: string,
    readonly output = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
