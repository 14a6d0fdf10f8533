// Owns: what the CLI shows a person — the progress bar (cli-progress) on a terminal or one line per finished item
// elsewhere, and the tables (cli-table3) of failed items, of a task and of the task list. Must not: call the API.

import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { type CheckItem, hostPort, type ItemErrorCode, type Task, type TaskHeader, type TaskList, type TaskSummary, itemErrorHints } from '@conncheck/core';

export interface Output {
  /** A terminal: the progress bar and wrapped, boxed tables; otherwise plain lines and unboxed tables. */
  tty: boolean;
  columns: number;
  write(text: string): void;
}

export function stdoutOutput(): Output {
  const tty = process.stdout.isTTY === true;
  return { tty, columns: (tty && process.stdout.columns) || 120, write: (text) => void process.stdout.write(text) };
}

/** How a task's progress is shown while the CLI waits for it. */
export interface ProgressView {
  start(header: Pick<TaskHeader, 'status' | 'summary'>): void;
  item(item: CheckItem): void;
  progress(progress: { status: TaskHeader['status']; summary: TaskSummary }): void;
  stop(): void;
}

const done = (s: TaskSummary): number => s.succeeded + s.failed + s.canceled;

/** A cli-progress bar, redrawn from each `progress` event's counts. */
export class BarView implements ProgressView {
  private readonly bar: cliProgress.SingleBar;
  constructor(out: Output) {
    this.bar = new cliProgress.SingleBar(
      {
        format: ' {bar} {percentage}% | {value}/{total} items | {failed} failed | {status}',
        stream: process.stdout,
        barsize: Math.max(10, Math.min(40, out.columns - 60)),
        hideCursor: true,
        // Redraw at most this often; the last state is always drawn by stop().
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
  }
  start({ status, summary }: Pick<TaskHeader, 'status' | 'summary'>): void {
    this.bar.start(summary.total, done(summary), { failed: summary.failed + summary.canceled, status });
  }
  item(): void {}
  progress({ status, summary }: { status: TaskHeader['status']; summary: TaskSummary }): void {
    this.bar.setTotal(summary.total);
    this.bar.update(done(summary), { failed: summary.failed + summary.canceled, status });
  }
  stop(): void {
    this.bar.stop();
  }
}

/** One line per item as it ends: `[2/4] failed   closed-port  tcp 127.0.0.1:1  CONNECTION_REFUSED`. */
export class LineView implements ProgressView {
  private total = 0;
  private readonly seen = new Set<number>();
  constructor(private readonly out: Output) {}
  start({ summary }: Pick<TaskHeader, 'status' | 'summary'>): void {
    this.total = summary.total;
  }
  item(item: CheckItem): void {
    if (this.seen.has(item.index)) return;
    this.seen.add(item.index);
    const code = item.success ? '' : `  ${item.error_code ?? ''}`;
    const ms = item.success && item.duration_ms !== null ? `  ${item.duration_ms} ms` : '';
    this.out.write(`[${this.seen.size}/${this.total}] ${item.status.padEnd(8)} ${item.id}  ${target(item)}${code}${ms}\n`);
  }
  progress(): void {}
  stop(): void {}
}

/** Shows nothing: --json prints the final task only. */
export class SilentView implements ProgressView {
  start(): void {}
  item(): void {}
  progress(): void {}
  stop(): void {}
}

/** `tcp 127.0.0.1:1`, `mongodb h1:27017,h2:27017`: the type and the endpoints the service parsed. */
export function target(item: Pick<CheckItem, 'db_type' | 'target'>): string {
  const endpoints = item.target.endpoints.map(({ host, port }) => hostPort(host, port)).join(',');
  return `${item.db_type} ${endpoints || item.target.ip}`;
}

export function hint(code: string | null): string {
  return (code !== null && itemErrorHints[code as ItemErrorCode]) || '';
}

/** `check <id>: Failed — 3 of 4 items failed` */
export function headline(task: Pick<TaskHeader, 'check_id' | 'status' | 'message'>): string {
  return `check ${task.check_id}: ${task.status}${task.message ? ` — ${task.message}` : ''}\n`;
}

/** The items that did not succeed: failed, and canceled ones (they end with error_code CANCELED). */
export function failedItems(task: Task): CheckItem[] {
  return task.check_items.filter((item) => item.status === 'failed' || item.status === 'canceled');
}

/** The table after a wait: id, target, error_code, hint (and error_msg with --verbose). */
export function failureTable(items: CheckItem[], out: Output, verbose: boolean): string {
  const head = ['id', 'target', 'error_code', 'hint', ...(verbose ? ['error_msg'] : [])];
  const rows = items.map((item) => [item.id, target(item), item.error_code ?? '', hint(item.error_code), ...(verbose ? [item.error_msg ?? ''] : [])]);
  return table(head, rows, out, verbose ? [3, 4] : [3]);
}

/** `get`: the task's header, every item, and the hint of each error code that occurs. */
export function taskDetails(task: Task, out: Output, verbose: boolean): string {
  const s = task.summary;
  let text = headline(task);
  text += `type ${task.type}, created ${task.created_at}, ${task.finished_at ? `finished ${task.finished_at}` : 'not finished'}\n`;
  text += `${s.total} items: ${s.succeeded} succeeded, ${s.failed} failed, ${s.canceled} canceled, ${s.running} running, ${s.pending} pending\n`;
  if (task.check_items.length === 0) return text;
  const head = ['#', 'id', 'status', 'target', 'error_code', 'ms', ...(verbose ? ['error_msg'] : [])];
  const rows = task.check_items.map((item) => [
    String(item.index),
    item.id,
    item.status,
    target(item),
    item.error_code ?? '',
    item.duration_ms === null ? '' : String(item.duration_ms),
    ...(verbose ? [item.error_msg ?? ''] : []),
  ]);
  text += `\n${table(head, rows, out, verbose ? [6] : [])}`;
  const codes = [...new Set(task.check_items.map((item) => item.error_code).filter((code): code is string => code !== null))];
  if (codes.length > 0) text += `\n${codes.map((code) => `${code}: ${hint(code)}`).join('\n')}\n`;
  return text;
}

export function listTable(list: TaskList, out: Output): string {
  if (list.checks.length === 0) return 'no checks\n';
  const head = ['check_id', 'status', 'type', 'items', 'failed', 'created_at'];
  const rows = list.checks.map((task) => [
    task.check_id,
    task.status,
    task.type,
    String(task.summary.total),
    String(task.summary.failed + task.summary.canceled),
    task.created_at,
  ]);
  return table(head, rows, out, []);
}

const PLAIN_CHARS = {
  top: '',
  'top-mid': '',
  'top-left': '',
  'top-right': '',
  bottom: '',
  'bottom-mid': '',
  'bottom-left': '',
  'bottom-right': '',
  left: '',
  'left-mid': '',
  mid: '',
  'mid-mid': '',
  right: '',
  'right-mid': '',
  middle: '  ',
};

/**
 * A terminal gets a boxed table that fits its width: the columns in `wrap` (long texts) share what the others leave
 * and wrap on words. Elsewhere one row is one line, columns aligned, nothing wrapped, so grep and cut work.
 */
function table(head: string[], rows: string[][], out: Output, wrap: number[]): string {
  if (!out.tty) {
    const plain = new Table({ head, chars: PLAIN_CHARS, style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0 } });
    plain.push(...rows);
    return `${plain
      .toString()
      .split('\n')
      .map((line) => line.trimEnd())
      .filter((line) => line !== '')
      .join('\n')}\n`;
  }
  const natural = head.map((title, col) => Math.max(title.length, ...rows.map((row) => row[col]!.length)) + 2);
  const fixed = natural.map((width, col) => (wrap.includes(col) ? 0 : Math.min(width, 32)));
  const left = out.columns - (head.length + 1) - fixed.reduce((a, b) => a + b, 0);
  const share = wrap.length === 0 ? 0 : Math.max(16, Math.floor(left / wrap.length));
  const colWidths = natural.map((width, col) => (wrap.includes(col) ? Math.min(width, share) : fixed[col]!));
  const boxed = new Table({ head, colWidths, wordWrap: true, wrapOnWordBoundary: true, style: { head: [], border: [] } });
  // A long id or target is broken anywhere rather than cut: it is what the user greps for.
  boxed.push(...rows.map((row) => row.map((content, col) => (wrap.includes(col) ? content : { content, wrapOnWordBoundary: false }))));
  return `${boxed.toString()}\n`;
}
