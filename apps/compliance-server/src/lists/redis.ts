import { Redis } from 'ioredis'
import type { VersionCoordinator } from './manager.js'

/**
 * Instances agree on the list version through Redis: each publishes the version it swapped to
 * (and stores it under `<prefix>version`); an instance that hears a version other than its own re-fetches.
 */
export function createRedisCoordinator (url: string, prefix = 'compliance:lists:'): VersionCoordinator {
  const pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 })
  const sub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 })
  const channel = `${prefix}version`
  return {
    async publish (versionId) {
      await pub.set(`${prefix}version`, versionId)
      await pub.publish(channel, versionId)
    },
    async subscribe (listener) {
      sub.on('message', (ch: string, message: string) => { if (ch === channel) listener(message) })
      await sub.subscribe(channel)
      const known = await pub.get(`${prefix}version`)
      if (known !== null) listener(known)
    },
    async close () {
      pub.disconnect()
      sub.disconnect()
    }
  }
}
