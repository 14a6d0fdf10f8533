// Owns: the tasks page — a project's tasks newest first, a status filter, pages by cursor, refreshed every few
// seconds — each task with its full check_id linking to its page. Must not: change a task.

import { useState } from 'preact/hooks';
import { type TaskHeader, api } from '../api';
import { PolledState } from '../components/notice';
import { TASK_STATUS_LIST, TaskBadge } from '../components/status';
import { Time } from '../components/time';
import { between, duration } from '../format';
import { usePolling } from '../polling';
import { href, navigate } from '../route';

const PAGE_SIZE = 20;
const REFRESH_MS = 2000;

function Counts({ task }: { task: TaskHeader }) {
  const { summary } = task;
  const parts = [
    summary.succeeded > 0 && `${summary.succeeded} ✓`,
    summary.failed > 0 && `${summary.failed} ✗`,
    summary.canceled > 0 && `${summary.canceled} canceled`,
    summary.running > 0 && `${summary.running} running`,
    summary.pending > 0 && `${summary.pending} pending`,
  ].filter(Boolean);
  return (
    <span
      title={`${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.canceled} canceled, ${summary.running} running, ${summary.pending} pending`}
    >
      {summary.total} {summary.total === 1 ? 'item' : 'items'}
      {parts.length > 0 && `: ${parts.join(' · ')}`}
    </span>
  );
}

export function TasksPage({ project, status }: { project: string; status?: string | undefined }) {
  // The cursors of the pages before this one: Newer goes back one, a new filter starts again.
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const key = `${project}|${status ?? ''}|${cursor ?? ''}`;
  const list = usePolling((signal) => api.checks(project, { status, cursor, limit: PAGE_SIZE }, signal), key, REFRESH_MS);

  return (
    <section class="page tasks-page">
      <div class="page-head">
        <h1>Tasks</h1>
        <label class="inline">
          Status{' '}
          <select
            value={status ?? ''}
            onChange={(e) => {
              setCursors([]);
              const value = e.currentTarget.value;
              navigate(value ? { page: 'tasks', project, status: value } : { page: 'tasks', project });
            }}
          >
            <option value="">all</option>
            {TASK_STATUS_LIST.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <span class="muted refreshed" aria-live="off">
          {list.at ? <>refreshed every {REFRESH_MS / 1000} s</> : null}
        </span>
      </div>

      <PolledState
        polled={list}
        what="tasks"
        isEmpty={(data) => data.checks.length === 0}
        empty={status ? `No ${status} tasks in ${project}${cursor ? ' on this page' : ''}.` : `No tasks in ${project} yet.`}
      />
      {list.data && list.data.checks.length > 0 && (
        <ul class="task-list" data-testid="task-list">
          {list.data.checks.map((task) => (
            <li key={task.check_id} class="task-row" data-check-id={task.check_id}>
              <a class="check-id" href={href({ page: 'task', project, checkId: task.check_id })}>
                {task.check_id}
              </a>
              <TaskBadge status={task.status} />
              <span class="task-type">{task.type}</span>
              <span class="task-counts">
                <Counts task={task} />
              </span>
              <span class="task-message">{task.message}</span>
              <span class="task-time">
                <Time at={task.created_at} /> · {task.finished_at ? duration(between(task.created_at, task.finished_at)) : 'running'}
              </span>
            </li>
          ))}
        </ul>
      )}
      <nav class="pager" aria-label="pages">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <span class="muted">page {cursors.length + 1}</span>
        <button type="button" disabled={!list.data?.next_cursor} onClick={() => list.data?.next_cursor && setCursors([...cursors, list.data.next_cursor])}>
          Older →
        </button>
      </nav>
    </section>
  );
}
