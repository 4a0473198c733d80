import t from 'tap'
import { existsSync } from 'node:fs'
import { createServer } from 'node:http'
import { chromium } from 'playwright-core'
import { authorizationUrl, DEV_PASSWORD, pkce, register, startBuiltin, tokenRequest } from './helpers/oauth.js'

const CHROMIUM = '/usr/bin/chromium'

t.test('headless Chromium signs in and consents through the HTML pages (no JavaScript needed)', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} missing (apt-get install -y chromium)` }, async (t) => {
  const s = await startBuiltin(t)
  const codes: URLSearchParams[] = []
  const callback = createServer((req, res) => {
    codes.push(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams)
    res.setHeader('content-type', 'text/html')
    res.end('<!doctype html><title>Signed in</title><p>You can close this window.</p>')
  })
  await new Promise<void>((resolve) => callback.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { callback.close() })
  const redirect = `http://127.0.0.1:${(callback.address() as { port: number }).port}/callback`
  const { client_id: clientId } = await (await register(s.issuer, { redirect_uris: [redirect], client_name: 'Browser test' })).json() as { client_id: string }

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'] })
  t.teardown(async () => { await browser.close() })
  const context = await browser.newContext({ javaScriptEnabled: false })
  const page = await context.newPage()
  const p = pkce()
  await page.goto(authorizationUrl(s.issuer, clientId, { challenge: p.challenge, resource: s.url, scope: 'sanctions:screen cases:read', redirectUri: redirect }))
  t.match(await page.title(), /Sign in/)
  t.match(await page.textContent('main'), /Browser test/)
  await page.fill('input[name=username]', 'analyst')
  await page.fill('input[name=password]', DEV_PASSWORD)
  await Promise.all([page.waitForURL(/\/interaction\//), page.click('button[type=submit]')])
  t.match(await page.title(), /Allow access/)
  const text = await page.textContent('main') ?? ''
  t.match(text, /Screen names against the sanctions lists/)
  t.match(text, /Read cases/)
  await Promise.all([page.waitForURL(/\/callback\?/), page.click('button:has-text("Allow")')])
  const params = codes[0] as URLSearchParams
  t.equal(params.get('state'), 'st-1')
  const tok = await tokenRequest(s.issuer, { grant_type: 'authorization_code', code: params.get('code') as string, code_verifier: p.verifier, redirect_uri: redirect, client_id: clientId, resource: s.url })
  t.equal(tok.status, 200)
  t.same(String(tok.body.scope).split(' ').sort(), ['cases:read', 'sanctions:screen'])
})
