/**
 * The one error shape of the code base (docs/errors.md): a stable `code` that callers and tests
 * branch on, a plain `message` for people, the standard `cause` (another library's error,
 * logged but never shown as ours) and `retriable`: whether making the same call again may
 * succeed. Only a code known to be safe to repeat is retriable: a refused or indeterminate
 * order never is, and neither is a programming error.
 */

/** What journals and telemetry record of an error: never its stack or cause. */
export interface ErrorJSON<C extends string = string> {
  readonly code: C;
  readonly message: string;
  readonly retriable: boolean;
}

export interface AppErrorOptions {
  cause?: unknown;
  /** This one failure's retriability, when it is not its code's (default: the code's). */
  retriable?: boolean;
}

/** A code and its plain meaning, which is also the message when the thrower gives none. */
export type CodeTable<C extends string = string> = Readonly<Record<C, string>>;

export class AppError<C extends string = string> extends Error {
  readonly code: C;
  readonly retriable: boolean;

  constructor(code: C, message: string, options: AppErrorOptions = {}) {
    // No `cause` property at all without one, as with a plain Error.
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable ?? false;
  }

  /** `err instanceof this`, and of `code` when one is given: `LedgerError.is(err, 'E_BAD_FILL')`. */
  static is<T extends AppError>(
    this: abstract new (...args: never[]) => T,
    err: unknown,
    code?: T['code'],
  ): err is T {
    return err instanceof this && (code === undefined || err.code === code);
  }

  toJSON(): ErrorJSON<C> {
    return { code: this.code, message: this.message, retriable: this.retriable };
  }
}
setName(AppError, 'AppError');

export interface ErrorClassOptions<C extends string> {
  /** Codes that are retriable unless the thrower says otherwise. Default: none. */
  retriable?: readonly C[];
}

/** What `errorClass` returns: extend it to name the class and keep `instanceof` working. */
export interface AppErrorClass<C extends string> {
  new (code: C, message?: string, options?: AppErrorOptions): AppError<C>;
  readonly prototype: AppError<C>;
  /** Every code of the class with its plain meaning. */
  readonly codes: CodeTable<C>;
  is: typeof AppError.is;
}

/**
 * One family of errors: `class LedgerError extends errorClass('LedgerError', LEDGER_ERROR_CODES) {}`.
 * The name is given as a string so it survives a minifying bundler (stack traces, pino's `type`).
 */
export function errorClass<const C extends string>(
  name: string,
  codes: CodeTable<C>,
  // NoInfer: the codes come from the table; a retriable list names some of them.
  options: ErrorClassOptions<NoInfer<C>> = {},
): AppErrorClass<C> {
  const retriable = new Set<string>(options.retriable ?? []);
  for (const code of retriable) {
    if (!Object.hasOwn(codes, code))
      throw new TypeError(`${name}: retriable code ${code} is not in its table`);
  }
  const Family = class extends AppError<C> {
    static readonly codes = codes;
    constructor(code: C, message?: string, opts: AppErrorOptions = {}) {
      super(code, message ?? codes[code], {
        cause: opts.cause,
        retriable: opts.retriable ?? retriable.has(code),
      });
    }
  };
  setName(Family, name);
  return Family;
}

/** True only for one of our errors that says so: anything else (a TypeError, ccxt's) is not retried. */
export function isRetriable(err: unknown): boolean {
  return err instanceof AppError && err.retriable;
}

function setName(cls: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(cls, 'name', { value: name, configurable: true });
  // On the prototype, like Error's own: stack traces say `LedgerError: ...`, not `Error: ...`.
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true, configurable: true });
}
