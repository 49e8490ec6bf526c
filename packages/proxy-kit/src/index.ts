export * from './constants.js';
export * from './headers.js';
export * from './forwarder.js';
export * from './static-token.js';
export * from './metrics.js';
export * from './readiness.js';
export * from './config.js';
export * from './fast-path.js';
