// Owns: loading the database drivers on first use. A process that never runs a probe of a type never loads its
// driver — the API (which uses this package for the network policy only) none, a tcp-only worker none — and each
// costs 15–25 MB of resident memory. Must not: configure or call a driver (its probe does).

import type * as Kafkajs from 'kafkajs';
import type * as Mongodb from 'mongodb';
import type Mysql2 from 'mysql2';
import type Pg from 'pg';

export interface Drivers {
  mysql2: typeof Mysql2;
  pg: typeof Pg;
  mongodb: typeof Mongodb;
  kafkajs: typeof Kafkajs.default;
}

const importers: { [K in keyof Drivers]: () => Promise<Drivers[K]> } = {
  mysql2: () => import('mysql2').then((m) => m.default),
  pg: () => import('pg').then((m) => m.default),
  mongodb: () => import('mongodb'),
  kafkajs: () => import('kafkajs').then((m) => m.default),
};

const loading = new Map<keyof Drivers, Promise<unknown>>();
const loaded = new Map<keyof Drivers, unknown>();

/** The driver, loaded on the first call. A probe awaits this before it dials. */
export function loadDriver<K extends keyof Drivers>(name: K): Promise<Drivers[K]> {
  let pending = loading.get(name);
  if (!pending) {
    pending = importers[name]().then((module) => {
      loaded.set(name, module);
      return module;
    });
    loading.set(name, pending);
  }
  return pending as Promise<Drivers[K]>;
}

/** A driver its probe has loaded already: for code that only runs after that (its error mapping). */
export function loadedDriver<K extends keyof Drivers>(name: K): Drivers[K] {
  const module = loaded.get(name);
  if (!module) throw new Error(`${name} is used before its probe loaded it`);
  return module as Drivers[K];
}
