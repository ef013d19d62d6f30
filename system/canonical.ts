/** Canonical JSON lives with the actors (they hash with it); re-exported for the runtime. */
export { canonicalJson } from '../actors/canonical.js';
