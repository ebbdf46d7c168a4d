/** A bad command line: reported with its message and exit code 2, without a stack. */
export class UsageError extends Error {}
