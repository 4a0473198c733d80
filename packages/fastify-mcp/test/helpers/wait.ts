/** Polls `check` until it holds, at most `tries` times `everyMs` apart; false when it never did. */
export async function until (check: () => boolean | Promise<boolean>, tries = 100, everyMs = 20): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return true
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
  return false
}
