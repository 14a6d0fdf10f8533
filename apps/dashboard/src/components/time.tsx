// Owns: a point in time on the page: local time, with the ISO UTC value as its title and datetime.
// Must not: compute durations (format.ts does).

import { isoTitle, localTime } from '../format';

export function Time({ at }: { at: string | number | null | undefined }) {
  const iso = isoTitle(at);
  return iso ? (
    <time dateTime={iso} title={iso}>
      {localTime(at)}
    </time>
  ) : (
    <span>—</span>
  );
}
