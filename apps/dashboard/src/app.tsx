// Owns: the page's frame — asking for the token once, knowing the projects it covers, the header and navigation —
// and which page a route shows. Must not: fetch a page's own data (the pages do) or keep the token (session.ts does).

import { useEffect, useState } from 'preact/hooks';
import { ApiFailure, type Projects, api, onUnauthorized } from './api';
import { ErrorNotice, Loading } from './components/notice';
import { PoolsPage } from './pages/pools';
import { ResourcesPage } from './pages/resources';
import { ProjectPicker, TokenForm } from './pages/sign-in';
import { TaskPage } from './pages/task';
import { TasksPage } from './pages/tasks';
import { type Route, href, useRoute } from './route';
import { session } from './session';

type Access = { state: 'loading' } | { state: 'error'; error: Error } | { state: 'needs-token'; problem?: string } | { state: 'ready'; projects: Projects };

function useAccess(): [Access, (token: string | null) => void] {
  const [token, setToken] = useState(session.token());
  const [access, setAccess] = useState<Access>({ state: 'loading' });
  const [problem, setProblem] = useState<string>();

  useEffect(
    () =>
      onUnauthorized((failure) => {
        session.setToken(null);
        setProblem(`The server refused the token (${failure.message}). Enter it again.`);
        setToken(null);
      }),
    [],
  );

  useEffect(() => {
    const controller = new AbortController();
    setAccess({ state: 'loading' });
    (async () => {
      // Without a token, ask first whether one is needed at all (open mode): never a 401 just to find out.
      if (!token && !(await api.session(controller.signal)).open_mode) return setAccess({ state: 'needs-token', problem });
      setAccess({ state: 'ready', projects: await api.projects(controller.signal) });
    })().catch((error: Error) => {
      if (controller.signal.aborted) return;
      if (error instanceof ApiFailure && error.status === 401) return; // onUnauthorized asks again
      setAccess({ state: 'error', error });
    });
    return () => controller.abort();
  }, [token]);

  const set = (value: string | null) => {
    session.setToken(value);
    setProblem(undefined);
    setToken(value);
  };
  return [access, set];
}

function projectOf(route: Route): string | undefined {
  return route.page === 'start' ? undefined : route.project;
}

function Nav({ route, project }: { route: Route; project: string }) {
  const link = (target: Route, label: string) => (
    <a href={href(target)} aria-current={route.page === target.page || (route.page === 'task' && target.page === 'tasks') ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <nav class="nav" aria-label="pages">
      {link({ page: 'tasks', project }, 'Tasks')}
      {link({ page: 'pools', project }, 'Pools')}
      {link({ page: 'resources', project }, 'Saved resources')}
    </nav>
  );
}

function Page({ route }: { route: Exclude<Route, { page: 'start' }> }) {
  switch (route.page) {
    case 'tasks':
      return <TasksPage key={`${route.project}|${route.status ?? ''}`} project={route.project} status={route.status} />;
    case 'task':
      return <TaskPage key={`${route.project}|${route.checkId}`} project={route.project} checkId={route.checkId} />;
    case 'pools':
      return <PoolsPage project={route.project} />;
    case 'resources':
      return <ResourcesPage project={route.project} />;
  }
}

export function App() {
  const route = useRoute();
  const [access, setToken] = useAccess();
  const project = projectOf(route);

  useEffect(() => {
    if (project) session.setLastProject(project);
    document.title = project ? `conncheck · ${project}` : 'conncheck';
  }, [project]);

  let body;
  if (access.state === 'loading') body = <Loading what="access" />;
  else if (access.state === 'error') body = <ErrorNotice error={access.error} />;
  else if (access.state === 'needs-token') body = <TokenForm onToken={setToken} problem={access.problem} />;
  else if (route.page === 'start') body = <ProjectPicker projects={access.projects} />;
  else {
    const { projects } = access;
    const allowed = projects.open_mode || projects.all_projects || projects.projects.includes(route.project);
    body = allowed ? <Page route={route} /> : <ProjectPicker projects={projects} problem={`This token may not use project ${route.project}.`} />;
  }

  return (
    <>
      <header class="top">
        <a class="brand" href={href({ page: 'start' })}>
          conncheck
        </a>
        {project && access.state === 'ready' && <Nav route={route} project={project} />}
        <div class="who">
          {project && (
            <span>
              project <strong data-testid="project">{project}</strong> · <a href={href({ page: 'start' })}>change</a>
            </span>
          )}
          {access.state === 'ready' && access.projects.open_mode && <span class="badge tone-wait">open mode</span>}
          {session.token() && (
            <button type="button" class="link" onClick={() => setToken(null)}>
              Sign out
            </button>
          )}
        </div>
      </header>
      <main>{body}</main>
    </>
  );
}
