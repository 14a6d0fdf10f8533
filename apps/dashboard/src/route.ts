// Owns: the page's addresses — hash routes such as #/p/<project>/checks/<check_id> — parsed and built in one place,
// so every link and every reload agrees. Must not: fetch anything or know what a page shows.

import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'start' }
  | { page: 'tasks'; project: string; status?: string }
  | { page: 'task'; project: string; checkId: string }
  | { page: 'pools'; project: string }
  | { page: 'resources'; project: string };

const enc = encodeURIComponent;

/** The href of a route (a hash, so the API serves one file and any address reloads). */
export function href(route: Route): string {
  switch (route.page) {
    case 'start':
      return '#/';
    case 'tasks':
      return `#/p/${enc(route.project)}/checks${route.status ? `?status=${enc(route.status)}` : ''}`;
    case 'task':
      return `#/p/${enc(route.project)}/checks/${enc(route.checkId)}`;
    case 'pools':
      return `#/p/${enc(route.project)}/pools`;
    case 'resources':
      return `#/p/${enc(route.project)}/resources`;
  }
}

export function parse(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const parts = path
    .split('/')
    .filter(Boolean)
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  if (parts[0] !== 'p' || !parts[1]) return { page: 'start' };
  const project = parts[1];
  if (parts[2] === 'checks' && parts[3]) return { page: 'task', project, checkId: parts[3] };
  if (parts[2] === 'pools') return { page: 'pools', project };
  if (parts[2] === 'resources') return { page: 'resources', project };
  const status = new URLSearchParams(query).get('status');
  return status ? { page: 'tasks', project, status } : { page: 'tasks', project };
}

export function navigate(route: Route): void {
  location.hash = href(route);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const update = () => setRoute(parse(location.hash));
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}
