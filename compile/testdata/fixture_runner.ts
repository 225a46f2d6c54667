/** An inference runner that loads nothing: the inference process test only needs it to import. */
export default class FixtureRunner {
  /** Called once in the inference process. */
  initialize(): Promise<void> {
    return Promise.resolve();
  }
  /** Echoes its input. */
  run(data: unknown): Promise<unknown> {
    return Promise.resolve(data);
  }
  /** Nothing to release. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}
