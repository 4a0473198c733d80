/**
 * Thrown (as a rejection) by `ctx.elicit`/`ctx.sample`/`ctx.roots` under 2026-07-28 when the answer is not
 * there yet: the call ends with an `input_required` result naming what was asked, and runs again when
 * the client retries with the answers. Handlers need not catch it.
 */
export class InputRequiredSignal extends Error {
  constructor () {
    super('input required from the client')
    this.name = 'InputRequiredSignal'
  }
}
