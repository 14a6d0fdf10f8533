// Owns: how a status reads — a label with a symbol and a colour, never colour alone — for tasks, items, stages,
// saved connections' queues and pools. Must not: decide statuses; it shows the API's.

import type { CheckItem, QueueStatus, TaskStatus } from '../api';

type Tone = 'ok' | 'bad' | 'busy' | 'wait' | 'off';

const TASK: Record<TaskStatus, [Tone, string]> = {
  Pending: ['wait', '… Pending'],
  Running: ['busy', '▶ Running'],
  Succeeded: ['ok', '✓ Succeeded'],
  Failed: ['bad', '✗ Failed'],
  Canceled: ['off', '■ Canceled'],
};

const ITEM: Record<CheckItem['status'], [Tone, string]> = {
  pending: ['wait', '… pending'],
  running: ['busy', '▶ running'],
  success: ['ok', '✓ success'],
  failed: ['bad', '✗ failed'],
  canceled: ['off', '■ canceled'],
};

const STAGE: Record<CheckItem['stages'][number]['status'], [Tone, string]> = {
  ok: ['ok', '✓ ok'],
  failed: ['bad', '✗ failed'],
  skipped: ['off', '– skipped'],
};

const QUEUE: Record<QueueStatus, [Tone, string]> = {
  CREATING: ['wait', '… CREATING'],
  ACTIVE: ['ok', '✓ ACTIVE'],
  FAILED: ['bad', '✗ FAILED'],
};

/** Every task status, in the order a filter offers them (the record above makes the compiler keep them complete). */
export const TASK_STATUS_LIST = Object.keys(TASK) as TaskStatus[];

function Badge({ tone, label, testId }: { tone: Tone; label: string; testId?: string | undefined }) {
  return (
    <span class={`badge tone-${tone}`} data-testid={testId}>
      {label}
    </span>
  );
}

export const TaskBadge = ({ status }: { status: TaskStatus }) => {
  const [tone, label] = TASK[status] ?? ['off', status];
  return <Badge tone={tone} label={label} testId="task-status" />;
};

export const ItemBadge = ({ status }: { status: CheckItem['status'] }) => {
  const [tone, label] = ITEM[status] ?? ['off', status];
  return <Badge tone={tone} label={label} testId="item-status" />;
};

export const StageBadge = ({ status }: { status: CheckItem['stages'][number]['status'] }) => {
  const [tone, label] = STAGE[status] ?? ['off', status];
  return <Badge tone={tone} label={label} />;
};

export const QueueBadge = ({ status }: { status: QueueStatus }) => {
  const [tone, label] = QUEUE[status] ?? ['off', status];
  return <Badge tone={tone} label={label} />;
};

export const ServedBadge = ({ served }: { served: boolean }) => (served ? <Badge tone="ok" label="✓ served" /> : <Badge tone="bad" label="✗ no live worker" />);

export const stageTone = (status: CheckItem['stages'][number]['status']): Tone => STAGE[status]?.[0] ?? 'off';
