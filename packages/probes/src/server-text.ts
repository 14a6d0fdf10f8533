// Owns: marking text that came from the server (driver and server error messages, bytes it sent) inside a result's
// messages, and removing secrets from exactly that text. Must not: touch conncheck's own wording (hints, addresses).

/** Private-use characters around server text inside a message; the runner removes them (and only they mark it). */
const OPEN = '\u{F8FE}';
const CLOSE = '\u{F8FF}';
const MARKED = /\u{F8FE}([^\u{F8FE}\u{F8FF}]*)\u{F8FF}/gu;
const MARKERS = /[\u{F8FE}\u{F8FF}]/gu;

/**
 * Marks `text` as the server's (a driver's error message, the server's own words or bytes), so that the runner
 * removes a secret from it before the message is stored. conncheck's own text around it is never touched.
 */
export function serverText(text: string): string {
  return `${OPEN}${text.replace(MARKERS, '')}${CLOSE}`;
}

/**
 * A message with every whole occurrence of a secret in its server text replaced by `***`, and the marks removed.
 * Whole: not inside a longer run of letters and digits (a password "e" in "Access denied", or "1f" in a hex dump,
 * is left alone: those are not the secret being echoed).
 */
export function redactServerText(text: string, secrets: readonly string[]): string {
  if (!text.includes(OPEN)) return text;
  const patterns = secrets.map((s) => new RegExp(`(?<![A-Za-z0-9])${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![A-Za-z0-9])`, 'g'));
  return text.replace(MARKED, (_m, inner: string) => patterns.reduce((out, pattern) => out.replace(pattern, '***'), inner)).replace(MARKERS, '');
}
