/** Polls `check` every `everyMs` until it holds or `timeoutMs` has passed; resolves to whether it held. */
export async function until (check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}
