import { errorClass } from '@appliance/errors';

/**
 * A cluster description that cannot become a haproxy.cfg. `issues` holds one line per problem
 * (`field.path: what is wrong`), so a caller can show all of them at once.
 */
export class ClusterError extends errorClass('ClusterError', {
  E_CLUSTER: 'the cluster description cannot become a haproxy.cfg',
}) {
  constructor(readonly issues: string[]) {
    super('E_CLUSTER', `invalid cluster description:\n  - ${issues.join('\n  - ')}`);
  }
}

export const HAPROXY_ERROR_CODES = {
  E_HAPROXY_NOT_FOUND: 'haproxy is not installed or cannot be run',
  E_HAPROXY_INVALID: 'haproxy refused the configuration, or exited',
  E_HAPROXY_ADMIN: "haproxy's admin socket did not take a runtime change",
} as const;
export type HaproxyErrorCode = keyof typeof HAPROXY_ERROR_CODES;

/** `haproxy -c` could not be run, or it refused the configuration; `output` is what it printed. */
export class HaproxyError extends errorClass('HaproxyError', HAPROXY_ERROR_CODES) {
  constructor(
    code: HaproxyErrorCode,
    message: string,
    readonly output = '',
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}
