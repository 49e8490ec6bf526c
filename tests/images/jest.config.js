import { jestConfig } from '../../jest.config.base.js';

// Image builds and container boots: minutes, not seconds. Each hook and test sets its own limit.
export default jestConfig(import.meta.dirname, { testTimeout: 300_000 });
