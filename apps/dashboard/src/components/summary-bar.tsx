// Owns: a task's summary as a bar — succeeded, failed, canceled, running, pending in proportion — with every count
// written out beside it. Must not: compute the counts; they are the API's summary.

import type { TaskSummary } from '../api';

const PARTS: { key: keyof Omit<TaskSummary, 'total'>; label: string; tone: string }[] = [
  { key: 'succeeded', label: 'succeeded', tone: 'ok' },
  { key: 'failed', label: 'failed', tone: 'bad' },
  { key: 'canceled', label: 'canceled', tone: 'off' },
  { key: 'running', label: 'running', tone: 'busy' },
  { key: 'pending', label: 'pending', tone: 'wait' },
];

export function SummaryBar({ summary }: { summary: TaskSummary }) {
  const total = Math.max(summary.total, 1);
  return (
    <div class="summary" data-testid="summary">
      <div class="summary-bar" role="img" aria-label={PARTS.map((p) => `${summary[p.key]} ${p.label}`).join(', ')}>
        {PARTS.filter((p) => summary[p.key] > 0).map((p) => (
          <span key={p.key} class={`segment tone-${p.tone}`} style={{ width: `${(summary[p.key] / total) * 100}%` }} />
        ))}
      </div>
      <ul class="summary-legend">
        {PARTS.map((p) => (
          <li key={p.key} class={summary[p.key] === 0 ? 'zero' : undefined} data-count={p.key}>
            <span class={`dot tone-${p.tone}`} aria-hidden="true" />
            <strong>{summary[p.key]}</strong> {p.label}
          </li>
        ))}
        <li>
          of <strong>{summary.total}</strong>
        </li>
      </ul>
    </div>
  );
}
