// MSAL's HTTP client with a deadline on every call. MSAL's own client sets none on POSTs (the token
// endpoint), so an identity provider that takes the connection and never answers would hold a
// sign-in or a token refresh, and the request behind it, for ever.
import {
  AuthError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';

export const IDP_TIMEOUT_CODE = 'idp_timeout';

/** The identity provider did not answer in time (an MSAL AuthError, so MSAL passes it on unchanged). */
export class IdpTimeoutError extends AuthError {
  constructor(timeoutMs: number) {
    super(IDP_TIMEOUT_CODE, `the identity provider did not answer within ${timeoutMs} ms`);
    this.name = 'IdpTimeoutError';
  }
}

export class TimedNetworkClient implements INetworkModule {
  constructor(private readonly timeoutMs: number) {}

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'GET', options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>(url, 'POST', options);
  }

  private async send<T>(
    url: string,
    method: 'GET' | 'POST',
    options: NetworkRequestOptions | undefined,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const timeoutMs = Math.min(timeout && timeout > 0 ? timeout : Infinity, this.timeoutMs);
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      // The whole exchange, body included, runs under the one signal.
      const response = await fetch(url, {
        method,
        headers: options?.headers,
        body: method === 'POST' ? (options?.body ?? '') : undefined,
        signal,
      });
      const text = await response.text();
      let body: T;
      try {
        body = JSON.parse(text) as T;
      } catch {
        throw new AuthError(
          'token_parsing_error',
          `the identity provider answered ${response.status} without JSON`,
        );
      }
      return { headers: Object.fromEntries(response.headers), body, status: response.status };
    } catch (error) {
      if (signal.aborted) throw new IdpTimeoutError(timeoutMs);
      throw error;
    }
  }
}
