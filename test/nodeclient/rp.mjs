// rp.mjs: Node's openid-client (v6, pinned in package-lock.json) as an
// independent relying party against a Keyward node. The Go test
// (nodeclient_test.go) starts the node, runs this script and drives the
// sign-in; the two speak JSON lines: this script writes one line per step
// to stdout, and reads the callback URL from stdin after the
// {"step":"authorize"} line. Any failed check throws, the script prints
// {"step":"error"} and exits 1.
//
// Environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI.
import { webcrypto } from 'node:crypto'
import { createInterface } from 'node:readline'

// Node 18 (Debian 12's nodejs) has WebCrypto only under node:crypto;
// openid-client expects the global. Set it before the library loads.
if (!globalThis.crypto) globalThis.crypto = webcrypto
const client = await import('openid-client')

const { ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI } = process.env

function emit(step, data = {}) {
  process.stdout.write(JSON.stringify({ step, ...data }) + '\n')
}

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what)
}

const stdin = createInterface({ input: process.stdin })
const lines = stdin[Symbol.asyncIterator]()
async function readLine() {
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed before the callback URL')
  return value
}

async function main() {
  // Discovery (OpenID Connect Discovery 1.0). The test node listens on
  // loopback HTTP, which openid-client refuses unless told.
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, { client_secret: CLIENT_SECRET },
    client.ClientSecretBasic(CLIENT_SECRET), { execute: [client.allowInsecureRequests] })
  // Verify ID token signatures against jwks_uri too, not only the claims.
  client.enableNonRepudiationChecks(config)
  const md = config.serverMetadata()
  check(md.issuer === ISSUER, 'issuer')
  check(md.authorization_response_iss_parameter_supported === true, 'RFC 9207 iss supported')
  emit('discovery', { issuer: md.issuer, grant_types_supported: md.grant_types_supported })

  // Authorisation code with PKCE (RFC 7636), state and nonce.
  const verifier = client.randomPKCECodeVerifier()
  const challenge = await client.calculatePKCECodeChallenge(verifier)
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authURL = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI, scope: 'openid profile email offline_access',
    code_challenge: challenge, code_challenge_method: 'S256', state, nonce,
  })
  emit('authorize', { url: authURL.href })
  const callback = new URL(await readLine())

  // A callback whose iss is not the issuer must be refused before the code
  // is sent anywhere (RFC 9207 §2.4).
  const forged = new URL(callback.href)
  forged.searchParams.set('iss', 'https://attacker.example')
  let issRejected = ''
  try {
    await client.authorizationCodeGrant(config, forged, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true })
  } catch (e) {
    issRejected = e.code || e.name
  }
  check(issRejected !== '', 'a forged iss was accepted')
  emit('iss_mismatch_rejected', { error: issRejected })

  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  })
  const claims = tokens.claims()
  check(claims && claims.sub, 'ID token claims')
  check(claims.iss === ISSUER && claims.nonce === nonce, 'ID token iss and nonce')
  check(tokens.refresh_token, 'refresh token issued')
  emit('code', { sub: claims.sub, iss: claims.iss, aud: claims.aud, token_type: tokens.token_type,
    expires_in: tokens.expires_in, scope: tokens.scope, has_refresh_token: !!tokens.refresh_token })

  // UserInfo (OIDC Core §5.3), with the sub checked against the ID token.
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
  emit('userinfo', { sub: info.sub, email: info.email, name: info.name })

  // Refresh (RFC 6749 §6).
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  check(refreshed.access_token && refreshed.access_token !== tokens.access_token, 'a new access token')
  emit('refresh', { new_access_token: true, has_id_token: !!refreshed.id_token,
    sub: refreshed.id_token ? refreshed.claims().sub : undefined })

  // Introspection (RFC 7662), then revocation (RFC 7009) and introspection
  // again, which must find the token inactive.
  const live = await client.tokenIntrospection(config, refreshed.access_token)
  emit('introspection', { active: live.active, sub: live.sub, client_id: live.client_id, scope: live.scope })
  await client.tokenRevocation(config, refreshed.access_token)
  const dead = await client.tokenIntrospection(config, refreshed.access_token)
  emit('revocation', { active_after: dead.active })

  // Client credentials (RFC 6749 §4.4).
  const cc = await client.clientCredentialsGrant(config, { scope: 'read' })
  emit('client_credentials', { token_type: cc.token_type, scope: cc.scope, has_access_token: !!cc.access_token,
    has_refresh_token: !!cc.refresh_token })
}

try {
  await main()
  emit('done')
  process.exit(0)
} catch (e) {
  emit('error', { name: e.name, code: e.code, message: e.message, cause: e.cause ? String(e.cause.message || e.cause) : undefined })
  process.exit(1)
}
