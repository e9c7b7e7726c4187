import { errorClass } from '@appliance/errors';

export const WIREGUARD_ERROR_CODES = {
  E_INVALID: 'the description cannot become a WireGuard config, or an argument is malformed',
  E_WG_INVALID: 'wg-quick or wg refused the configuration',
  E_WG_NOT_FOUND: 'wg, wg-quick, wireguard-go or ip is not installed or cannot be run',
  E_WG_COMMAND: 'a wg, wg-quick or ip command failed or timed out',
} as const;
export type WireguardErrorCode = keyof typeof WIREGUARD_ERROR_CODES;

/**
 * Everything this package throws. `issues` holds one `field.path: problem` line per problem of an
 * E_INVALID (all of them at once, as haproxy's ClusterError); `output` is what a tool printed.
 */
export class WireguardError extends errorClass('WireguardError', WIREGUARD_ERROR_CODES) {
  constructor(
    code: WireguardErrorCode,
    message: string,
    readonly details: { issues?: string[]; output?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }

  get issues(): string[] {
    return this.details.issues ?? [];
  }

  get output(): string {
    return this.details.output ?? '';
  }
}

/** An E_INVALID listing every problem, one `field: problem` line each. */
export function invalid(issues: string[]): WireguardError {
  return new WireguardError('E_INVALID', `invalid WireGuard description:\n  - ${issues.join('\n  - ')}`, {
    issues,
  });
}

/** Where the tools come from on Debian, for the E_WG_NOT_FOUND message. */
export const APT_HINT = 'apt-get install wireguard-tools wireguard-go iproute2';
