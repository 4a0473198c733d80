import { escapeHtml } from './provider.js'

/** Each scope in words, for the consent page. */
export const SCOPE_WORDS: Record<string, string> = {
  'sanctions:screen': 'Screen names against the sanctions lists',
  'sanctions:read': 'Read sanctions list entries and sources',
  'risk:read': 'Read country risk ratings',
  'identifiers:validate': 'Validate IBAN, BIC and LEI identifiers',
  'alerts:triage': 'Triage screening alerts',
  'alerts:decide': 'Record decisions on alerts',
  'cases:write': 'Add notes to cases',
  'cases:read': 'Read cases',
  openid: 'Confirm who you are',
  offline_access: 'Stay signed in (refresh tokens)'
}

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}label,input,button{display:block;width:100%;margin:.4rem 0}input,button{padding:.5rem;font-size:1rem}.error{color:#b00020}'

function page (title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body><main><h1>${escapeHtml(title)}</h1>
${body}
</main></body></html>`
}

export function loginPage (o: { uid: string, csrf: string, client: string, error?: string, username?: string, upstream: boolean }): string {
  const error = o.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(o.error)}</p>`
  const upstream = o.upstream
    ? `<form method="post" action="/oauth/interaction/${escapeHtml(o.uid)}/upstream"><input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}"><button type="submit">Sign in with your company account</button></form><p>or with a local account:</p>`
    : ''
  return page('Sign in to the compliance service', `<p><strong>${escapeHtml(o.client)}</strong> asks to use the compliance tools on your behalf.</p>
${error}${upstream}
<form method="post" action="/oauth/interaction/${escapeHtml(o.uid)}/login" autocomplete="on">
<input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}">
<label for="username">Username</label><input id="username" name="username" autocomplete="username" required value="${escapeHtml(o.username ?? '')}">
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>`)
}

export function consentPage (o: { uid: string, csrf: string, client: string, user: string, scopes: string[], withheld: string[] }): string {
  const items = o.scopes.map((s) => `<li>${escapeHtml(SCOPE_WORDS[s] ?? s)} <code>${escapeHtml(s)}</code></li>`).join('\n')
  const withheld = o.withheld.length === 0
    ? ''
    : `<p>Not granted, because your account does not hold them: ${o.withheld.map((s) => `<code>${escapeHtml(s)}</code>`).join(', ')}</p>`
  return page('Allow access?', `<p>Signed in as <strong>${escapeHtml(o.user)}</strong>. <strong>${escapeHtml(o.client)}</strong> will be able to:</p>
<ul>
${items === '' ? '<li>nothing beyond knowing who you are</li>' : items}
</ul>
${withheld}
<form method="post" action="/oauth/interaction/${escapeHtml(o.uid)}/confirm"><input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}"><button type="submit">Allow</button></form>
<form method="post" action="/oauth/interaction/${escapeHtml(o.uid)}/abort"><input type="hidden" name="csrf" value="${escapeHtml(o.csrf)}"><button type="submit">Deny</button></form>`)
}
