export { AuthServerCredential, type AuthServerCredentialOptions } from './credential.js';
export { AuthServerError } from './errors.js';
export { authServerCredentialFromEnv } from './env.js';
export { ENV_SECRET, ENV_SECRET_FILE, ENV_SERVER_URL } from './constants.js';
