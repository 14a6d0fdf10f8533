// Owns: loading a view's data and keeping it fresh — a request now, again every few seconds while the tab is
// visible, the previous one aborted — with its error. Must not: know what it loads.

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Polled<T> {
  data: T | undefined;
  error: Error | undefined;
  /** When the data last arrived (ms). */
  at: number | undefined;
  reload: () => void;
}

/** Loads `load` whenever `key` changes and every `everyMs` (0: once). Aborted requests are not errors. */
export function usePolling<T>(load: (signal: AbortSignal) => Promise<T>, key: string, everyMs: number): Polled<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; at: number | undefined; key: string }>({
    data: undefined,
    error: undefined,
    at: undefined,
    key,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    const schedule = () => {
      if (everyMs > 0) timer = window.setTimeout(run, document.hidden ? everyMs * 4 : everyMs);
    };
    const run = () => {
      loadRef.current(controller.signal).then(
        (data) => {
          if (controller.signal.aborted) return;
          setState({ data, error: undefined, at: Date.now(), key });
          schedule();
        },
        (error: Error) => {
          if (controller.signal.aborted) return;
          setState((prev) => ({ ...prev, error, key }));
          schedule();
        },
      );
    };
    run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [key, everyMs, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  // Data of another key (a previous filter or page) is not shown as this one's.
  const current = state.key === key;
  return { data: current ? state.data : undefined, error: current ? state.error : undefined, at: current ? state.at : undefined, reload };
}
