// @artilleryio/int-core ships no types. The part the Artillery workload test uses: the runner, which
// answers an event emitter that runs the script's phases and emits 'done' with the run's report.
declare module '@artilleryio/int-core' {
  import type { EventEmitter } from 'node:events';

  interface ArtilleryRun extends EventEmitter {
    run(contextVars?: Record<string, unknown>): void;
    stop(): Promise<void>;
  }
  const core: {
    runner: {
      runner(script: unknown, payload: unknown, options: Record<string, unknown>): Promise<ArtilleryRun>;
    };
  };
  export default core;
}
