// GET/POST /{tenant}/oauth2/v2.0/logout: redirects to post_logout_redirect_uri (with `state`) when
// its origin is a registered redirect URI's, else shows the signed-out page.
import type { Request, Response } from 'express';
import { renderSignedOutPage } from '../pages.js';
import { str, type Params } from '../params.js';
import type { Provider } from '../provider.js';
import { sameRedirectOrigin } from '../redirect-uri.js';

export function endSession(provider: Provider, req: Request, res: Response, params: Params): void {
  provider.endpoints.tenant(String(req.params.tenant ?? ''));
  const target = str(params.post_logout_redirect_uri);
  const state = str(params.state);
  if (target) {
    try {
      const url = new URL(target);
      const allowed = [...provider.registry.apps()].some((app) =>
        app.redirectUris.some((r) => sameRedirectOrigin(r, url)),
      );
      if (allowed) {
        if (state) url.searchParams.set('state', state);
        res.redirect(302, url.toString());
        return;
      }
    } catch {
      // not a URL: the signed-out page
    }
  }
  res.type('html').send(renderSignedOutPage());
}
