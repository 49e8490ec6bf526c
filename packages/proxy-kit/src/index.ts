export * from './constants.js';
export * from './headers.js';
export * from './forwarder.js';
export * from './static-token.js';
