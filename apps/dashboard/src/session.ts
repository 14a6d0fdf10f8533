// Owns: what the page keeps for the browser tab's session — the X-Auth-Token and the last project used — in
// sessionStorage, so a reload keeps them and closing the tab forgets them. Must not: send the token anywhere itself.

const TOKEN_KEY = 'conncheck.token';
const PROJECT_KEY = 'conncheck.project';

function read(key: string): string | null {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null; // storage disabled: the page still works for as long as it stays open
  }
}

function write(key: string, value: string | null): void {
  try {
    if (value === null) sessionStorage.removeItem(key);
    else sessionStorage.setItem(key, value);
  } catch {
    // as above
  }
}

let token = read(TOKEN_KEY);

export const session = {
  token: (): string | null => token,
  setToken(value: string | null): void {
    token = value;
    write(TOKEN_KEY, value);
  },
  lastProject: (): string | null => read(PROJECT_KEY),
  setLastProject: (project: string): void => write(PROJECT_KEY, project),
};
