/** The task map of the pool tests' worker (echo-worker.ts), shared by the tests and the worker. */

/** What the echo worker starts with; a negative factor fails its init. */
export interface EchoData {
  factor: number;
}

export interface EchoTasks {
  /** x times the worker's factor. */
  times: { request: number; response: number };
  /** Reports 1..n as progress, then "done". */
  count: { request: number; response: string; progress: number };
  /** A transferred Float32Array of n threes. */
  fill: { request: number; response: Float32Array };
  /** Fails with INPUT_INVALID. */
  fail: { request: null; response: never };
  /** Exits the worker's process thread. */
  crash: { request: null; response: never };
  /** Spins the worker's CPU for `ms` ms. */
  busy: { request: number; response: null };
}
