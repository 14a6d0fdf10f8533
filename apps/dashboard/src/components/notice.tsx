// Owns: how an API error or an empty state reads on a page. Must not: retry or decide what to do about it.

import type { ComponentChildren } from 'preact';
import { ApiFailure } from '../api';

export function ErrorNotice({ error, children }: { error: Error; children?: ComponentChildren }) {
  const code = error instanceof ApiFailure ? error.code : error.name;
  return (
    <div class="notice notice-error" role="alert">
      <strong>{code}</strong> {error.message}
      {children}
    </div>
  );
}

export const Loading = ({ what }: { what: string }) => <p class="muted" aria-busy="true">Loading {what}…</p>;

export const Empty = ({ children }: { children: ComponentChildren }) => <p class="muted empty">{children}</p>;
