import { createHash, randomBytes } from 'node:crypto'
import {
  createRequestStateCodec,
  fromJsonSchema,
  isSpecType,
  MissingRequiredClientCapabilityError,
  ProtocolError,
  type ClientCapabilities,
  type InputRequest,
  type InputRequiredResult,
  type JsonSchemaType,
  type RequestStateCodec
} from '@modelcontextprotocol/server'
import { RPC } from '../errors.js'
import { InputRequiredSignal } from '../registry/input.js'
import type { InputOptions } from '../registry/types.js'
import { isObject } from './protocol.js'

type Kind = 'elicitation/create' | 'sampling/createMessage' | 'roots/list'

const PREFIX: Record<Kind, string> = { 'elicitation/create': 'elicitation', 'sampling/createMessage': 'sampling', 'roots/list': 'roots' }

interface SealedState {
  /** Answers given in earlier rounds, by key. */
  a: Record<string, unknown>
  /** Digest of who asked what (principal, method, target): state minted for one call is refused for another. */
  b: string
}

function missingCapability (kind: Kind, params: Record<string, unknown>, caps: ClientCapabilities): ClientCapabilities | null {
  if (kind === 'elicitation/create') {
    const e = caps.elicitation as Record<string, unknown> | undefined
    if (e === undefined) return { elicitation: params.mode === 'url' ? { url: {} } : {} }
    if (params.mode === 'url' && e.url === undefined) return { elicitation: { url: {} } }
    return null
  }
  if (kind === 'sampling/createMessage') {
    const s = caps.sampling as Record<string, unknown> | undefined
    if (s === undefined) return { sampling: {} }
    if ((params.tools !== undefined || params.toolChoice !== undefined) && s.tools === undefined) return { sampling: { tools: {} } }
    const context = params.includeContext
    if (context !== undefined && context !== 'none' && s.context === undefined) return { sampling: { context: {} } }
    return null
  }
  return caps.roots === undefined ? { roots: {} } : null
}

/**
 * One round of a 2026-07-28 call that may ask the client for input (multi round-trip requests). The
 * handler's `ctx.elicit`/`sample`/`roots` resolve from the answers the client sent with this retry or
 * sealed in `requestState` by an earlier round; what has no answer yet is collected, and the call ends
 * with an `input_required` result naming it. The handler runs again, from the start, on the retry.
 */
export class InputRound {
  readonly #earlier: Record<string, unknown>
  readonly #fresh: Record<string, unknown>
  readonly #caps: ClientCapabilities
  readonly #used: Record<string, unknown> = {}
  readonly asked: Record<string, InputRequest> = {}
  #n = 0

  constructor (earlier: Record<string, unknown>, fresh: Record<string, unknown>, caps: ClientCapabilities) {
    this.#earlier = earlier
    this.#fresh = fresh
    this.#caps = caps
  }

  get pending (): boolean {
    for (const _ in this.asked) return true
    return false
  }

  /** Every answer used so far, to seal into the next `requestState`. */
  get answers (): Record<string, unknown> { return { ...this.#earlier, ...this.#used } }

  async ask<T> (kind: Kind, params: Record<string, unknown>, options: InputOptions | undefined): Promise<T> {
    const required = missingCapability(kind, params, this.#caps)
    if (required !== null) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: required }, `The client did not declare the ${Object.keys(required)[0] ?? ''} capability this call needs`)
    const key = options?.key ?? `${PREFIX[kind]}_${++this.#n}`
    const answer = Object.hasOwn(this.#fresh, key) ? this.#fresh[key] : this.#earlier[key]
    if (answer === undefined) {
      this.asked[key] = { method: kind, params } as InputRequest
      throw new InputRequiredSignal()
    }
    await checkAnswer(kind, key, params, answer)
    this.#used[key] = answer
    return answer as T
  }
}

async function checkAnswer (kind: Kind, key: string, params: Record<string, unknown>, answer: unknown): Promise<void> {
  const invalid = (why: string): never => { throw new ProtocolError(RPC.INVALID_PARAMS, `Invalid input response "${key}": ${why}`, { key }) }
  if (kind === 'elicitation/create') {
    if (!isSpecType.ElicitResult(answer)) invalid('expected an elicitation result { action, content? }')
    const result = answer as { action: string, content?: unknown }
    if (result.action === 'accept' && params.mode !== 'url' && isObject(params.requestedSchema)) {
      const schema = fromJsonSchema(params.requestedSchema as JsonSchemaType)
      const checked = await schema['~standard'].validate(result.content ?? {})
      if (checked.issues !== undefined) invalid(`the content does not match the requested schema (${checked.issues.map((i) => i.message).join('; ')})`)
    }
  } else if (kind === 'sampling/createMessage') {
    if (!isSpecType.CreateMessageResult(answer) && !isSpecType.CreateMessageResultWithTools(answer)) invalid('expected a sampling result { role, content, model }')
  } else if (!isSpecType.ListRootsResult(answer)) {
    invalid('expected a roots result { roots }')
  }
}

/**
 * Seals the answers of earlier rounds into `requestState` (HMAC-SHA256 with expiry, from the SDK) and
 * opens them again, bound to the caller and the call so that state minted for one cannot serve another.
 */
export class InputStates {
  readonly #codec: RequestStateCodec<SealedState>

  constructor (secret: string | Uint8Array | undefined, ttlSeconds: number) {
    this.#codec = createRequestStateCodec<SealedState>({ key: secret ?? randomBytes(32), ttlSeconds })
  }

  static binding (principal: string, method: string, target: unknown): string {
    return createHash('sha256').update(`${principal}\0${method}\0${typeof target === 'string' ? target : ''}`).digest('base64url').slice(0, 22)
  }

  async seal (answers: Record<string, unknown>, binding: string): Promise<string> {
    return await this.#codec.mint({ a: answers, b: binding })
  }

  /** The earlier answers carried by `state`, or -32602 when it was tampered with, expired, or minted for another call. */
  async open (state: string, binding: string): Promise<Record<string, unknown>> {
    let sealed: SealedState
    try {
      // The codec's context argument only feeds its own `bind` option, which is not used: the binding travels in the payload.
      sealed = await this.#codec.verify(state, undefined as never)
    } catch {
      throw invalidState()
    }
    if (!isObject(sealed) || sealed.b !== binding || !isObject(sealed.a)) throw invalidState()
    return sealed.a
  }

  async result (round: InputRound, binding: string): Promise<InputRequiredResult> {
    return { resultType: 'input_required', inputRequests: round.asked, requestState: await this.seal(round.answers, binding) }
  }
}

function invalidState (): ProtocolError {
  return new ProtocolError(RPC.INVALID_PARAMS, 'Invalid or expired requestState', { reason: 'invalid_request_state' })
}
