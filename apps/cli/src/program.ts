// Owns: the `conncheck` commands (submit, get, list, cancel, watch), their options and help (commander), where the
// URL, token and project come from, and which exit code each outcome gives. Must not: format tables (output.ts).

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TASK_STATUSES, type Task, type TaskStatus } from '@conncheck/core';
import { ApiCallError, ApiClient } from './api-client.js';
import { CliError, ExitCode } from './exit-codes.js';
import { follow } from './follow.js';
import {
  BarView,
  LineView,
  type Output,
  type ProgressView,
  SilentView,
  failedItems,
  failureTable,
  headline,
  listTable,
  stdoutOutput,
  taskDetails,
} from './output.js';
import { type ParsedInput, parseInput } from './targets.js';

const DEFAULT_URL = 'http://127.0.0.1:8080';

interface GlobalOptions {
  url?: string;
  token?: string;
  project?: string;
}

interface Context {
  client: ApiClient;
  project: () => Promise<string>;
  out: Output;
}

const HELP_AFTER = `
Environment:
  CONNCHECK_URL      the API (default ${DEFAULT_URL}); --url wins
  CONNCHECK_TOKEN    sent as X-Auth-Token; --token wins
  CONNCHECK_PROJECT  the project; --project wins. Neither: the token's only project, if it has one

Input of submit (a file, or - for standard input): a JSON batch body {"jobs":[...]}, or one target a line:
  host:port                                   tcp (also [v6]:port and tcp://host:port)
  mysql://user:password@host:3306/db          ?ssl-mode=REQUIRED|VERIFY_CA|VERIFY_IDENTITY&ssl-ca=FILE
  postgres://user:password@host:5432/db       ?sslmode=require|verify-ca|verify-full&sslrootcert=FILE
  mongodb://user:password@h1:27017,h2:27017/authdb   ?authSource=…&tls=true&tlsCAFile=FILE
  kafka://h1:9092,h2:9092                     PLAINTEXT; with a user: kafka://user:password@h:9093?security.protocol=SASL_SSL
                                              &sasl.mechanism=SCRAM-SHA-512&ssl.truststore.location=FILE
  Blank lines and lines starting with # are skipped; credentials are URL-decoded; a job's id is its line without the password.

Exit codes:
  0  every item succeeded (or: listed, canceled, submitted without --wait)
  1  some items failed or were canceled (a canceled task counts as failed)
  2  usage error or API error (network, 4xx, 5xx; the API's error_msg is on stderr)
`;

/** Runs the command line `argv` (without node and the script) and answers the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return (program as Command & { exitCodeResult?: number }).exitCodeResult ?? ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with exit code 0; every other commander error is a usage error, already printed.
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.ERROR;
    }
    if (err instanceof CliError) {
      process.stderr.write(`conncheck: ${err.message}\n`);
      return ExitCode.ERROR;
    }
    throw err;
  }
}

function buildProgram(): Command {
  const program = new Command('conncheck')
    .description('Command line client of a conncheck service: submit connectivity checks, watch them, read their results.')
    .version(packageVersion(), '-V, --version')
    .option('--url <url>', `the API's base URL (env CONNCHECK_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'X-Auth-Token (env CONNCHECK_TOKEN)')
    .option('--project <id>', 'the project (env CONNCHECK_PROJECT)')
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError('(conncheck --help for usage)')
    .exitOverride();
  const setResult = (code: number) => ((program as Command & { exitCodeResult?: number }).exitCodeResult = code);
  const context = (): Context => {
    const globals = program.opts<GlobalOptions>();
    const client = new ApiClient({ url: globals.url ?? process.env.CONNCHECK_URL ?? DEFAULT_URL, token: globals.token ?? process.env.CONNCHECK_TOKEN });
    let project: Promise<string> | undefined;
    return { client, out: stdoutOutput(), project: () => (project ??= resolveProject(client, globals.project ?? process.env.CONNCHECK_PROJECT)) };
  };

  program
    .command('submit')
    .description('submit a batch of checks; with --wait, follow it to the end')
    .argument('<file>', 'a JSON batch body or a list of targets; - reads standard input')
    .option('-w, --wait', 'wait for the task: a progress bar on a terminal, a line per item otherwise, then the failed items')
    .option('--json', 'print JSON only: the 202 answer, or with --wait the final task')
    .option('-v, --verbose', 'add error_msg to the table of failed items')
    .option('--dry-run', 'only validate: print every problem the API finds, submit nothing')
    .option('--idempotency-key <key>', 'Idempotency-Key of the submission (default: a new UUID; a retry of this command after no answer sends the same one)')
    .addHelpText('after', '\nWithout --wait, prints the check_id alone on standard output (id=$(conncheck submit targets.txt)).')
    .action(async (file: string, options: { wait?: boolean; json?: boolean; verbose?: boolean; dryRun?: boolean; idempotencyKey?: string }) => {
      const ctx = context();
      const input = parseInput(readInput(file));
      const project = await ctx.project();
      if (options.dryRun) {
        const answer = await ctx.client.dryRun(project, input.body);
        if (options.json) ctx.out.write(`${JSON.stringify(answer, null, 2)}\n`);
        else if (answer.valid) ctx.out.write(`valid: ${answer.count} job${answer.count === 1 ? '' : 's'}, nothing submitted\n`);
        else for (const p of answer.problems) ctx.out.write(`${onLine(p.field, input)}: ${p.error_code}: ${p.error_msg}\n`);
        setResult(answer.valid ? ExitCode.OK : ExitCode.ERROR);
        return;
      }
      let submitted;
      try {
        submitted = await ctx.client.submit(project, input.body, options.idempotencyKey ?? randomUUID());
      } catch (err) {
        if (err instanceof ApiCallError && err.status === 400) throw new CliError(onLine(err.message, input));
        throw err;
      }
      if (!options.wait) {
        if (options.json)
          ctx.out.write(
            `${JSON.stringify({ check_id: submitted.check_id, status: submitted.status, created_at: submitted.created_at, count: submitted.count }, null, 2)}\n`,
          );
        else ctx.out.write(`${submitted.check_id}\n`);
        if (!options.json) {
          process.stderr.write(
            `submitted ${submitted.count} item${submitted.count === 1 ? '' : 's'} as check ${submitted.check_id}${submitted.replayed ? ' (an earlier submission with this Idempotency-Key)' : ''}; follow it with: conncheck watch ${submitted.check_id}\n`,
          );
        }
        return;
      }
      setResult(await watch(ctx, project, submitted.check_id, options));
    });

  program
    .command('watch')
    .description('follow a task until it ends: a progress bar on a terminal, a line per item otherwise, then the failed items')
    .argument('<check_id>')
    .option('--json', 'print the final task as JSON only')
    .option('-v, --verbose', 'add error_msg to the table of failed items')
    .action(async (checkId: string, options: { json?: boolean; verbose?: boolean }) => {
      const ctx = context();
      setResult(await watch(ctx, await ctx.project(), checkId, options));
    });

  program
    .command('get')
    .description('show a task: its status, every item, and a hint for each error code')
    .argument('<check_id>')
    .option('--json', 'print the task as the API answers it')
    .option('-v, --verbose', 'add error_msg to the item table')
    .action(async (checkId: string, options: { json?: boolean; verbose?: boolean }) => {
      const ctx = context();
      const task = await ctx.client.task(await ctx.project(), checkId);
      ctx.out.write(options.json ? `${JSON.stringify(task, null, 2)}\n` : taskDetails(task, ctx.out, options.verbose === true));
      setResult(outcome(task));
    });

  program
    .command('list')
    .description('list tasks, newest first')
    .addOption(new Option('--status <status>', 'only tasks in this status').choices([...TASK_STATUSES]))
    .option('--limit <n>', 'at most this many (1-100, default 20)', positiveInteger)
    .option('--cursor <cursor>', 'the next page, as an earlier list printed it')
    .option('--json', 'print the list as the API answers it')
    .action(async (options: { status?: TaskStatus; limit?: number; cursor?: string; json?: boolean }) => {
      const ctx = context();
      const list = await ctx.client.list(await ctx.project(), { status: options.status, limit: options.limit, cursor: options.cursor });
      ctx.out.write(options.json ? `${JSON.stringify(list, null, 2)}\n` : listTable(list, ctx.out));
      if (!options.json && list.next_cursor) process.stderr.write(`more: conncheck list --cursor ${list.next_cursor}\n`);
    });

  program
    .command('cancel')
    .description('cancel a task: its unfinished items end as canceled (exit 0 when it was canceled)')
    .argument('<check_id>')
    .option('--json', 'print the task as the API answers it')
    .action(async (checkId: string, options: { json?: boolean }) => {
      const ctx = context();
      const task = await ctx.client.cancel(await ctx.project(), checkId);
      ctx.out.write(options.json ? `${JSON.stringify(task, null, 2)}\n` : headline(task));
    });

  return program;
}

/**
 * Follows a task to its end and shows it: progress from the event stream, then the headline and the failed items
 * (or the task as JSON). The exit code says whether every item succeeded.
 */
async function watch(ctx: Context, project: string, checkId: string, options: { json?: boolean; verbose?: boolean }): Promise<number> {
  const { client, out } = ctx;
  // Asked first so that an unknown id is the API's 404 message, not a failed event stream.
  const header = await client.task(project, checkId, { includeItems: false });
  const view: ProgressView = options.json ? new SilentView() : out.tty ? new BarView(out) : new LineView(out);
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort(new Interrupted());
  process.once('SIGINT', onSigint);
  view.start(header);
  try {
    await follow(client, project, checkId, { onItem: (item) => view.item(item), onProgress: (p) => view.progress(p) }, interrupt.signal);
  } catch (err) {
    view.stop();
    if (err instanceof Interrupted) {
      process.stderr.write(
        `\nconncheck: stopped watching; check ${checkId} goes on in the service (conncheck watch ${checkId}, or conncheck cancel ${checkId})\n`,
      );
      return ExitCode.INTERRUPTED;
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
  view.stop();
  const task = await client.task(project, checkId);
  if (options.json) {
    out.write(`${JSON.stringify(task, null, 2)}\n`);
  } else {
    out.write(headline(task));
    const failed = failedItems(task);
    if (failed.length > 0)
      out.write(`\n${failed.length} item${failed.length === 1 ? '' : 's'} did not succeed:\n${failureTable(failed, out, options.verbose === true)}`);
  }
  return outcome(task);
}

class Interrupted extends Error {}

/** 1 when any item failed or was canceled (also while the task still runs), else 0. */
function outcome(task: Pick<Task, 'status' | 'summary'>): number {
  if (task.status === 'Failed' || task.status === 'Canceled') return ExitCode.SOME_FAILED;
  return task.summary.failed + task.summary.canceled > 0 ? ExitCode.SOME_FAILED : ExitCode.OK;
}

/** --project, else CONNCHECK_PROJECT, else the token's one project (GET /v1/projects). */
async function resolveProject(client: ApiClient, given: string | undefined): Promise<string> {
  if (given !== undefined && given !== '') return given;
  const answer = await client.projects();
  if (!answer.all_projects && answer.projects.length === 1) return answer.projects[0]!;
  const which = answer.all_projects ? 'this service lets the token use any project' : `the token may use ${answer.projects.join(', ') || 'no project'}`;
  throw new CliError(`name a project with --project or CONNCHECK_PROJECT (${which})`);
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file === '-' ? 'standard input' : file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The API names a job `jobs[N]`; for a target list, say which line that is. */
function onLine(text: string, input: ParsedInput): string {
  if (input.lines.length === 0) return text;
  return text.replace(/jobs\[(\d+)\]/g, (whole, index: string) => {
    const line = input.lines[Number(index)];
    return line === undefined ? whole : `${whole} (line ${line})`;
  });
}

function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('not a positive whole number');
  return Number(value);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
