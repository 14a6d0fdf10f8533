// Owns: an item's stages drawn to scale — one bar, a segment per stage as long as it took, on a scale shared by the
// task's items (or the item's own) — and listed with status, duration and detail. Must not: reorder or add stages.

import type { CheckItem } from '../api';
import { duration } from '../format';
import { StageBadge, stageTone } from './status';

type Stage = CheckItem['stages'][number];

/** A segment this narrow has no room for its name (the list below the bar names every stage). */
const LABEL_MIN_PERCENT = 6;

/** The time an item's stages took together: what its bar spans at full width on its own scale. */
export const stagesTotal = (stages: Stage[]): number => stages.reduce((sum, stage) => sum + Math.max(0, stage.duration_ms), 0);

export function StageTimeline({ stages, scaleMs }: { stages: Stage[]; scaleMs: number }) {
  if (stages.length === 0) return <p class="muted">No stages recorded yet.</p>;
  const total = stagesTotal(stages);
  const scale = Math.max(scaleMs, total, 0.001);
  return (
    <div class="timeline">
      <div class="timeline-bar" role="img" aria-label={`stages: ${stages.map((s) => `${s.name} ${s.status} ${duration(s.duration_ms)}`).join(', ')}`}>
        {stages
          .filter((stage) => stage.duration_ms > 0)
          .map((stage) => {
            const percent = (stage.duration_ms / scale) * 100;
            return (
              <span
                key={stage.name}
                class={`segment tone-${stageTone(stage.status)}`}
                style={{ width: `${percent}%` }}
                title={`${stage.name}: ${stage.status}, ${duration(stage.duration_ms)}`}
              >
                {percent >= LABEL_MIN_PERCENT ? stage.name : ''}
              </span>
            );
          })}
      </div>
      <div class="timeline-axis" aria-hidden="true">
        <span>0</span>
        <span>{duration(scale)}</span>
      </div>
      <ol class="stages">
        {stages.map((stage) => (
          <li key={stage.name} data-stage={stage.name}>
            <span class="stage-name">{stage.name}</span>
            <StageBadge status={stage.status} />
            <span class="stage-time">{duration(stage.duration_ms)}</span>
            {stage.detail && <code class="stage-detail">{stage.detail}</code>}
          </li>
        ))}
      </ol>
    </div>
  );
}
