/** Query parameters that carry credentials; their values never stay in a URL that may be logged. */
const SECRET_PARAMS = /([?&](?:access_token|token|id_token|refresh_token|api_key|apikey|client_secret)=)[^&#]*/gi

/** `url` with the values of credential-carrying query parameters replaced by `[REDACTED]`. */
export function redactUrl (url: string): string {
  if (!url.includes('?')) return url
  return url.replace(SECRET_PARAMS, '$1[REDACTED]')
}
