/**
 * docklock's library entry. Each export is documented where it is defined.
 */
export * from './runtime/errors.ts';
