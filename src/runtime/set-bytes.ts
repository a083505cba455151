/** Copies into byte arrays as the compiled programs' helpers need them. */

const TYPED_SET = Uint8Array.prototype.set;

/**
 * to.set(from, at), as a call of the builtin itself: `.set` read off the array was a generic property
 * load in the optimised helpers (a call of V8's LoadIC per copy: the prototype's `set` was not inlined),
 * a few % of a run that copies a packet prefix.
 */
export function setBytes(to: Uint8Array, from: Uint8Array, at: number): void {
  TYPED_SET.call(to, from, at);
}
