import { EventEmitter } from 'node:events'
import type { BusMessage, McpBus } from './types.js'

/**
 * An in-process bus. One instance of it shared by several apps in one process makes them behave as
 * instances of one deployment (as Redis does across processes); the default is a private one per app.
 */
export class MemoryBus implements McpBus {
  readonly #emitter = new EventEmitter()

  constructor () {
    this.#emitter.setMaxListeners(0)
  }

  async publish (message: BusMessage): Promise<number> {
    const copy = structuredClone(message)
    queueMicrotask(() => { this.#emitter.emit('message', copy) })
    return this.#emitter.listenerCount('message')
  }

  async subscribe (handler: (message: BusMessage) => void): Promise<() => Promise<void>> {
    this.#emitter.on('message', handler)
    return async () => { this.#emitter.off('message', handler) }
  }

  async close (): Promise<void> {
    this.#emitter.removeAllListeners()
  }
}
