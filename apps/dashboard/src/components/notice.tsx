// Owns: how an API error, a load under way or an empty state reads on a page.
// Must not: retry or decide what to do about it.

import type { ComponentChildren } from 'preact';
import { ApiFailure } from '../api';
import type { Polled } from '../polling';

export function ErrorNotice({ error, children }: { error: Error; children?: ComponentChildren }) {
  const code = error instanceof ApiFailure ? error.code : error.name;
  return (
    <div class="notice notice-error" role="alert">
      <strong>{code}</strong> {error.message}
      {children}
    </div>
  );
}

export const Loading = ({ what }: { what: string }) => (
  <p class="muted" aria-busy="true">
    Loading {what}…
  </p>
);

export const Empty = ({ children }: { children: ComponentChildren }) => <p class="muted empty">{children}</p>;

/**
 * What a polled view shows in place of (or above) its data: the error, that it is still loading, or `empty` when
 * `isEmpty` says the data holds nothing.
 */
export function PolledState<T>(props: { polled: Pick<Polled<T>, 'data' | 'error'>; what: string; isEmpty?: (data: T) => boolean; empty?: ComponentChildren }) {
  const { polled, what, isEmpty, empty } = props;
  return (
    <>
      {polled.error && <ErrorNotice error={polled.error} />}
      {!polled.data && !polled.error && <Loading what={what} />}
      {polled.data !== undefined && isEmpty?.(polled.data) && <Empty>{empty}</Empty>}
    </>
  );
}
