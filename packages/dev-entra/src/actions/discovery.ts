// Discovery: the OpenID configuration and JWKS of the tenant, and those of the `_kubernetes` issuer
// whose tokens stand in for projected service account tokens (workload identity).
import type { Request, Response } from 'express';
import type { Provider } from '../provider.js';

export function openidConfiguration(provider: Provider): Record<string, unknown> {
  const { endpoints } = provider;
  const base = endpoints.authority;
  return {
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: endpoints.issuer,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${endpoints.url}/oidc/userinfo`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    code_challenge_methods_supported: ['plain', 'S256'],
    kerberos_endpoint: `${base}/kerberos`,
    tenant_region_scope: 'EU',
    cloud_instance_name: 'dev-entra.local',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
}

/** GET / : what this dev-entra is and where its OpenID configuration is. */
export function root(provider: Provider) {
  return (_req: Request, res: Response): void => {
    const { endpoints } = provider;
    res.json({
      service: 'dev-entra',
      tenantId: endpoints.tenantId,
      authority: endpoints.authority,
      openidConfiguration: `${endpoints.authority}/v2.0/.well-known/openid-configuration`,
    });
  };
}

export function openidConfigurationEndpoint(provider: Provider) {
  return (req: Request, res: Response): void => {
    provider.endpoints.tenant(String(req.params.tenant ?? ''));
    res.json(openidConfiguration(provider));
  };
}

export function jwksEndpoint(provider: Provider) {
  return (req: Request, res: Response): void => {
    provider.endpoints.tenant(String(req.params.tenant ?? ''));
    res.json(provider.claims.jwks);
  };
}

export function kubernetesOpenidConfiguration(provider: Provider) {
  return (_req: Request, res: Response): void => {
    const issuer = provider.endpoints.kubernetesIssuer;
    res.json({
      issuer,
      jwks_uri: `${issuer}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  };
}

export function kubernetesJwks(provider: Provider) {
  return (_req: Request, res: Response): void => {
    res.json(provider.claims.kubernetesJwks);
  };
}
