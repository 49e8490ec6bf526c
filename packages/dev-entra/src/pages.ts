// HTML pages of dev-entra: sign-in (one button per demo user), errors, sign-out, form_post.
import type { EntraError } from './errors.js';
import type { DemoUser } from './model.js';

export function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

const STYLE = `
  body { font-family: system-ui, sans-serif; background: #f3f4f6; margin: 0; color: #1b1b1b; }
  main { max-width: 26rem; margin: 4rem auto; background: #fff; padding: 2rem; border-radius: 6px;
         box-shadow: 0 2px 6px rgba(0,0,0,.15); }
  h1 { font-size: 1.4rem; margin-top: 0; }
  ul { list-style: none; padding: 0; }
  li { margin: .5rem 0; }
  button { width: 100%; padding: .7rem; font-size: 1rem; border: 1px solid #0067b8; background: #0067b8;
           color: #fff; border-radius: 3px; cursor: pointer; text-align: left; }
  button.secondary { background: #fff; color: #0067b8; }
  button:focus { outline: 3px solid #ffb900; }
  .hint { color: #555; font-size: .9rem; }
`;

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export function renderSignInPage(options: {
  action: string;
  txId: string;
  appName: string;
  scope: string;
  users: readonly DemoUser[];
  loginHint?: string;
}): string {
  const hint = options.loginHint?.toLowerCase();
  const users = options.users
    .map((user) => {
      const hinted = hint === user.upn.toLowerCase() ? ' autofocus' : '';
      return `<li><button type="submit" name="user" value="${escapeHtml(user.upn)}"${hinted}>Sign in as ${escapeHtml(
        user.name,
      )} (${escapeHtml(user.upn)})</button></li>`;
    })
    .join('\n');
  return layout(
    'Sign in - dev-entra',
    `<h1>Sign in</h1>
<p><strong>${escapeHtml(options.appName)}</strong> wants to sign you in.</p>
<p class="hint">Requested permissions: <code>${escapeHtml(options.scope)}</code></p>
<form method="post" action="${escapeHtml(options.action)}" aria-label="Pick an account">
<input type="hidden" name="tx" value="${escapeHtml(options.txId)}">
<h2 id="accounts">Pick an account</h2>
<ul aria-labelledby="accounts">
${users}
</ul>
<button type="submit" name="action" value="cancel" class="secondary">Cancel</button>
</form>
<p class="hint">dev-entra: local Entra ID stand-in. No password needed.</p>`,
  );
}

export function renderErrorPage(error: EntraError): string {
  return layout(
    'Sign-in error - dev-entra',
    `<h1>Sorry, but we're having trouble signing you in.</h1>
<p role="alert">AADSTS${error.aadsts}: ${escapeHtml(error.description)}</p>`,
  );
}

export function renderSignedOutPage(): string {
  return layout(
    'Signed out - dev-entra',
    '<h1>You signed out of your account</h1><p>You can close this window.</p>',
  );
}

export function renderFormPost(action: string, params: Record<string, string>): string {
  const inputs = Object.entries(params)
    .map(([key, value]) => `<input type="hidden" name="${escapeHtml(key)}" value="${escapeHtml(value)}">`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="${escapeHtml(action)}">
${inputs}
<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>
`;
}
