// Owns: what other workspaces (the tests) may import from the CLI: the input parser and the exit codes.
// Must not: start anything on import.

export { parseInput, parseTarget, type ParsedInput } from './targets.js';
export { CliError, ExitCode } from './exit-codes.js';
