import { jestConfig } from '../../jest.config.base.js';

// Each file starts an app and its stand-ins, then sends thousands of requests: minutes, not seconds,
// on a busy machine.
export default jestConfig(import.meta.dirname, { testTimeout: 600_000 });
