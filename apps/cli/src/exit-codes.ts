// Owns: the CLI's exit codes and the one error type that carries a message to stderr and a code to the shell.
// Must not: print anything or know about commands; main.ts decides what to write.

/** What the shell sees. Documented in the README's "Command line" section; scripts branch on these. */
export const ExitCode = {
  /** Every item succeeded (or the command did what it was asked: list, cancel, a submit without --wait). */
  OK: 0,
  /** The task has failed or canceled items. */
  SOME_FAILED: 1,
  /** A usage error (bad option, unreadable input) or an API error (network, 4xx, 5xx). */
  ERROR: 2,
  /** Interrupted by Ctrl-C while waiting; the task goes on in the service. */
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the user can act on: `message` goes to stderr as one line, the process exits with ExitCode.ERROR. */
export class CliError extends Error {
  override name = 'CliError';
}
