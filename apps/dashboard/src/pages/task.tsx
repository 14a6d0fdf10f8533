// Owns: the task page — header with the full check_id, summary bar, every item with its stages — kept live from the
// task's event stream while it runs, and cancel. Must not: poll while the stream is open, or guess items' results.

import { useEffect, useMemo, useState } from 'preact/hooks';
import { type ApiFailure, type CheckItem, type Task, api } from '../api';
import { ItemCard } from '../components/item-card';
import { ErrorNotice, Loading } from '../components/notice';
import { stagesTotal } from '../components/stage-timeline';
import { ItemBadge, TaskBadge } from '../components/status';
import { SummaryBar } from '../components/summary-bar';
import { Time } from '../components/time';
import { between, duration } from '../format';
import { type LiveState, followTask } from '../live';
import { href } from '../route';

const SHOW_STEP = 100;
const ITEM_FILTERS = ['all', 'failed', 'success', 'running', 'pending', 'canceled'] as const;
type ItemFilter = (typeof ITEM_FILTERS)[number];

const isOpen = (task: Pick<Task, 'status'>) => task.status === 'Pending' || task.status === 'Running';

const LIVE_LABEL: Record<LiveState, string> = {
  connecting: 'connecting to live events…',
  live: '● live: items appear as they end',
  reconnecting: 'connection lost: reconnecting…',
  ended: '', // the status says so
  failed: 'live events unavailable',
};

function withItem(task: Task, item: CheckItem): Task {
  const items = task.check_items.slice();
  const at = items.findIndex((i) => i.index === item.index);
  if (at >= 0) items[at] = item;
  else items.push(item);
  return { ...task, check_items: items };
}

export function TaskPage({ project, checkId }: { project: string; checkId: string }) {
  const [task, setTask] = useState<Task>();
  const [error, setError] = useState<Error>();
  const [live, setLive] = useState<LiveState>();
  const [liveFailure, setLiveFailure] = useState<ApiFailure>();
  const [filter, setFilter] = useState<ItemFilter>('all');
  const [shown, setShown] = useState(SHOW_STEP);
  const [sharedScale, setSharedScale] = useState(true);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const [cancelError, setCancelError] = useState<Error>();
  const [reloads, setReloads] = useState(0);

  // Load the task, then follow its events while it is open; the stream replays what ended before it connected.
  useEffect(() => {
    const controller = new AbortController();
    let stop: (() => void) | undefined;
    setError(undefined);
    api.task(project, checkId, controller.signal).then(
      (loaded) => {
        if (controller.signal.aborted) return;
        setTask(loaded);
        if (!isOpen(loaded)) {
          setLive('ended');
          return;
        }
        stop = followTask(project, checkId, {
          item: (item) => setTask((t) => t && withItem(t, item)),
          progress: ({ status, summary }) => setTask((t) => t && { ...t, status, summary }),
          end: (header) => {
            setTask((t) => t && { ...t, ...header, check_items: t.check_items });
            // One read after the end: the final state of every item, those whose events were not replayed included.
            api.task(project, checkId, controller.signal).then(
              (final) => !controller.signal.aborted && setTask(final),
              () => undefined,
            );
          },
          state: (state, failure) => {
            setLive(state);
            setLiveFailure(failure);
          },
        });
      },
      (err: Error) => !controller.signal.aborted && setError(err),
    );
    return () => {
      controller.abort();
      stop?.();
    };
  }, [project, checkId, reloads]);

  const items = useMemo(() => (task ? task.check_items.slice().sort((a, b) => a.index - b.index) : []), [task]);
  const visible = filter === 'all' ? items : items.filter((item) => item.status === filter);
  const scale = useMemo(() => Math.max(0, ...items.map((item) => stagesTotal(item.stages))), [items]);

  if (error) return <ErrorNotice error={error} />;
  if (!task) return <Loading what={`task ${checkId}`} />;

  const cancel = async () => {
    setConfirmCancel(false);
    setCancelError(undefined);
    try {
      setTask(await api.cancel(project, checkId));
    } catch (err) {
      setCancelError(err as Error); // e.g. 409: it ended meanwhile; its end event is on its way
    }
  };

  return (
    <section class="page task-page" data-testid="task-page">
      <p class="crumbs">
        <a href={href({ page: 'tasks', project })}>← Tasks</a>
      </p>
      <header class="task-head">
        <h1 class="check-id" data-testid="check-id">
          {task.check_id}
        </h1>
        <div class="task-meta">
          <span aria-live="polite">
            <TaskBadge status={task.status} />
          </span>
          <span>{task.type}</span>
          <span>
            created <Time at={task.created_at} />
          </span>
          <span>{task.finished_at ? <>took {duration(between(task.created_at, task.finished_at))}</> : 'not ended'}</span>
          {task.pools.length > 0 && <span>pools {task.pools.join(', ')}</span>}
          <span class={`live live-${live ?? 'connecting'}`} data-testid="live">
            {live ? LIVE_LABEL[live] : ''}
            {liveFailure && `: ${liveFailure.message}`}
          </span>
        </div>
        <p class="task-message">{task.message}</p>
        {isOpen(task) &&
          (confirmCancel ? (
            <p class="cancel">
              Cancel this task? Unfinished items end as canceled.{' '}
              <button type="button" class="danger" onClick={() => void cancel()}>
                Yes, cancel it
              </button>{' '}
              <button type="button" onClick={() => setConfirmCancel(false)}>
                No
              </button>
            </p>
          ) : (
            <p class="cancel">
              <button type="button" onClick={() => setConfirmCancel(true)}>
                Cancel task…
              </button>
            </p>
          ))}
        {cancelError && <ErrorNotice error={cancelError} />}
        {live === 'failed' && (
          <button type="button" onClick={() => setReloads((n) => n + 1)}>
            Reload
          </button>
        )}
      </header>

      <SummaryBar summary={task.summary} />

      <div class="item-tools">
        <div class="filters" role="group" aria-label="show items">
          {ITEM_FILTERS.map((f) => (
            <button
              key={f}
              type="button"
              class={filter === f ? 'chip chip-on' : 'chip'}
              aria-pressed={filter === f}
              onClick={() => {
                setFilter(f);
                setShown(SHOW_STEP);
              }}
            >
              {f === 'all' ? `all (${items.length})` : <ItemBadge status={f} />}
            </button>
          ))}
        </div>
        <label class="inline">
          <input type="checkbox" checked={sharedScale} onChange={(e) => setSharedScale(e.currentTarget.checked)} /> one time scale for all items
          {sharedScale && ` (0–${duration(scale)})`}
        </label>
      </div>

      <div class="items">
        {visible.slice(0, shown).map((item) => (
          <ItemCard key={item.index} item={item} scaleMs={sharedScale ? scale : 0} />
        ))}
        {visible.length === 0 && <p class="muted empty">No {filter} items.</p>}
      </div>
      {visible.length > shown && (
        <button type="button" onClick={() => setShown(shown + SHOW_STEP)}>
          Show {Math.min(SHOW_STEP, visible.length - shown)} more of {visible.length - shown}
        </button>
      )}
    </section>
  );
}
