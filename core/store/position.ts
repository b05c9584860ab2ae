// A position in the store's global order: its own module, so the decision log's types and the store port can both name it.
/**
 * A position in the global order. Opaque to callers: pass back what the store handed out.
 * Adapters encode it as a decimal string of their global sequence.
 */
export type Position = string & { readonly __position: unique symbol };
