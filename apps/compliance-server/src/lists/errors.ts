/** A list file that cannot be read as its official format; names the file and what was expected. */
export class DataError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'DataError'
  }
}
