import { jestConfig } from '../../jest.config.base.js';

// Each file starts an app and its stand-ins, then sends thousands of requests: minutes, not seconds,
// on a busy machine. The test process (fuzzer, oracles and the in-process stand-ins) uses about as
// much CPU as the app it fuzzes, so two files at a time keep both cores of a 2-core machine busy
// (jest's default there is one worker, which runs the files one after the other).
export default jestConfig(import.meta.dirname, { testTimeout: 600_000, maxWorkers: 2 });
