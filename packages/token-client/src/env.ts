// Builds an AuthServerCredential from the seed's environment variables, for apps that want one line.
import { AuthServerCredential } from './credential.js';
import { ENV_SECRET, ENV_SECRET_FILE, ENV_SERVER_URL } from './constants.js';

export function authServerCredentialFromEnv(
  env: Record<string, string | undefined> = process.env,
): AuthServerCredential {
  const serverUrl = env[ENV_SERVER_URL];
  if (!serverUrl) throw new TypeError(`${ENV_SERVER_URL} is not set`);
  const secretFile = env[ENV_SECRET_FILE] || undefined;
  const secret = env[ENV_SECRET] || undefined;
  if (!secret && !secretFile) throw new TypeError(`${ENV_SECRET} or ${ENV_SECRET_FILE} must be set`);
  return new AuthServerCredential({ serverUrl, secret, secretFile });
}
