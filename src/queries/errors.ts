/** Stable codes of the query layer's errors, for mapping to HTTP statuses or bot replies. */
export type QueryErrorCode = 'EMAIL_TAKEN' | 'INVALID_CREDENTIALS' | 'INVALID_RESET_TOKEN';

/** Base class of the errors an app user can cause through the query layer: a stable `code`, a one-line message. */
export class QueryError extends Error {
  readonly code: QueryErrorCode;

  constructor(code: QueryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** `createUser`: an account with this email (after trimming and lower-casing) already exists. */
export class EmailTakenError extends QueryError {
  constructor(readonly email: string) {
    super('EMAIL_TAKEN', 'an account with this email already exists');
  }
}

/**
 * `verifyPassword`: the email is unknown or the password is wrong. Deliberately the same error and message
 * for both, so that a login form cannot be used to find out which emails have accounts.
 */
export class InvalidCredentialsError extends QueryError {
  constructor() {
    super('INVALID_CREDENTIALS', 'invalid email or password');
  }
}

/** `resetPassword`: the token is unknown, already used, or expired (one error for all three, as for logins). */
export class InvalidResetTokenError extends QueryError {
  constructor() {
    super('INVALID_RESET_TOKEN', 'invalid or expired password reset token');
  }
}
