// Owns: asking for the X-Auth-Token (once: it is kept for the tab's session) and choosing a project — from the ones
// the token covers, or by id in open mode or for a token valid for every project. Must not: store the token itself
// (session.ts does) or show any project's data.

import { useState } from 'preact/hooks';
import type { Projects } from '../api';
import { href, navigate } from '../route';
import { session } from '../session';

export function TokenForm({ onToken, problem }: { onToken: (token: string) => void; problem?: string | undefined }) {
  const [token, setToken] = useState('');
  return (
    <form
      class="panel sign-in"
      onSubmit={(event) => {
        event.preventDefault();
        if (token.trim()) onToken(token.trim());
      }}
    >
      <h1>Sign in</h1>
      <p>This conncheck server needs a token. It is kept for this browser tab only and sent as the X-Auth-Token header.</p>
      {problem && (
        <p class="notice notice-error" role="alert">
          {problem}
        </p>
      )}
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autoComplete="off" spellcheck={false} value={token} onInput={(e) => setToken(e.currentTarget.value)} />
      <button type="submit" disabled={!token.trim()}>
        Continue
      </button>
    </form>
  );
}

export function ProjectPicker({ projects, problem }: { projects: Projects; problem?: string | undefined }) {
  const [id, setId] = useState(session.lastProject() ?? '');
  const anyProject = projects.open_mode || projects.all_projects;
  return (
    <section class="panel projects">
      <h1>Choose a project</h1>
      {problem && (
        <p class="notice notice-error" role="alert">
          {problem}
        </p>
      )}
      {projects.projects.length > 0 && (
        <>
          <p>This token covers:</p>
          <ul class="project-list">
            {projects.projects.map((project) => (
              <li key={project}>
                <a href={href({ page: 'tasks', project })}>{project}</a>
              </li>
            ))}
          </ul>
        </>
      )}
      {anyProject && (
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (id.trim()) navigate({ page: 'tasks', project: id.trim() });
          }}
        >
          <p>
            {projects.open_mode ? 'This server runs in open mode (no tokens): any project id works.' : 'This token may use every project.'} Enter a project id:
          </p>
          <label for="project">Project id</label>
          <input id="project" name="project" value={id} spellcheck={false} onInput={(e) => setId(e.currentTarget.value)} />
          <button type="submit" disabled={!id.trim()}>
            Open
          </button>
        </form>
      )}
      {!anyProject && projects.projects.length === 0 && <p class="muted">This token covers no project.</p>}
    </section>
  );
}
