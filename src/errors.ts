// Typed errors mapped to exit codes in one place (src/cli/main.ts). Every layer throws these;
// only the entry point turns them into a message and an exit code.

export const ExitCode = {
  OK: 0,
  /** Runtime failure: backend unreachable, I/O error, server error. */
  ERROR: 1,
  /** Bad flags or arguments, or a destructive command without --yes and no terminal. */
  USAGE: 2,
  /** Policy files failed validation. */
  INVALID: 3,
  /** `plan --detailed-exitcode`: the plan has changes. */
  CHANGES: 4,
  /** `compliance --fail-on`: a device is in the named state. */
  NONCOMPLIANT: 5,
  /** `apply --plan`: the saved plan was edited, was made for another backend, or its secrets changed. */
  PLAN_REFUSED: 6,
  /**
   * A write was sent but its answer was lost (timeout, dropped connection, gateway error): it may
   * or may not have happened. Every such write carries an idempotency key, so running it again is safe.
   */
  OUTCOME_UNKNOWN: 7,
  /** Cancelled at a prompt or by Ctrl-C. */
  CANCELLED: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export class EmmctlError extends Error {
  readonly exitCode: number;
  /** What to do next, printed under the message. */
  readonly hint?: string;
  constructor(message: string, opts: { exitCode?: number; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.exitCode = opts.exitCode ?? ExitCode.ERROR;
    this.hint = opts.hint;
  }
}

/** The user's to fix (bad flag combination, missing file): message, no stack. */
export class UsageError extends EmmctlError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.USAGE, hint });
  }
}

/** Validation failed; the details were already printed by the command. */
export class ValidationFailedError extends EmmctlError {
  constructor(message = 'policy validation failed') {
    super(message, { exitCode: ExitCode.INVALID });
  }
}

export class CancelledError extends EmmctlError {
  constructor(message = 'cancelled') {
    super(message, { exitCode: ExitCode.CANCELLED });
  }
}

/** A command's outcome calls for a non-zero code without being an error (plan has changes, gate failed). */
export class ExitWith extends EmmctlError {
  constructor(exitCode: number, message = '') {
    super(message, { exitCode });
  }
}

/**
 * The request may have been carried out, or not: its response never arrived. Never reported as a
 * failure (it may have worked) nor as success (it may not have); the message says what may have
 * happened, and the hint whether running it again is safe (it is not for everything: a one-time
 * token may already be spent).
 */
export class OutcomeUnknownError extends EmmctlError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.OUTCOME_UNKNOWN, hint: opts.hint, cause: opts.cause });
  }
}

/** `apply --plan` will not apply this plan file (edited, another backend, secrets changed). */
export class PlanRefusedError extends EmmctlError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.PLAN_REFUSED, hint });
  }
}

export type BackendErrorCode =
  | 'not_found'
  | 'conflict' // stale plan, version mismatch, duplicate
  | 'invalid' // request rejected by the backend (bad filter, bad reference)
  | 'unauthorized'
  | 'forbidden'
  | 'rate_limited'
  | 'unavailable' // unreachable, timed out, 5xx
  | 'protocol'; // garbage response

export class BackendError extends EmmctlError {
  readonly code: BackendErrorCode;
  readonly status?: number;
  constructor(code: BackendErrorCode, message: string, opts: { hint?: string; status?: number; cause?: unknown } = {}) {
    super(message, { exitCode: ExitCode.ERROR, hint: opts.hint, cause: opts.cause });
    this.code = code;
    this.status = opts.status;
  }
}
