// Owns: the error of a save refused because its name is taken (lua/includes/uniqueName.lua).
// Must not: carry more than the id that holds the name; how to answer it is the API's to decide.

/**
 * The name must be unique in its scope (a load-balancing channel's on its gateway instance, a saved connection's in
 * its project), and `id` holds it: nothing was saved.
 */
export class NameTakenError extends Error {
  constructor(readonly id: string) {
    super(`the name is taken by ${id}`);
    this.name = 'NameTakenError';
  }
}
