// Names and numbers of the token-server client protocol, kept in one place.
export const TOKEN_PATH = 'token';
export const ENV_SERVER_URL = 'AUTH_SERVER_URL';
export const ENV_SECRET = 'AZD_AUTH_SECRET';
export const ENV_SECRET_FILE = 'AZD_AUTH_SECRET_FILE';
export const DEFAULT_REFRESH_BEFORE_EXPIRY_MS = 5 * 60_000;
export const DEFAULT_TIMEOUT_MS = 10_000;
/** A cached token this close to expiry is not handed out any more: callers wait for a new one. */
export const EXPIRY_SAFETY_MS = 30_000;
/** At most one background refresh attempt per scope in this interval (keeps a failing server quiet). */
export const MIN_BACKGROUND_RETRY_MS = 10_000;
export const MAX_RESPONSE_BYTES = 64 * 1024;
