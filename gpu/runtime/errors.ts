// The engine's own error types for bad input: a UNet config it cannot build, a checkpoint whose
// files are missing or do not fit, a sampling request or training recipe out of bounds. The message
// is written for the person who gave that input; the front ends show it as it is (the CLI exits 2,
// HTTP answers 400). Any other error out of the engine is a bug.
export class EngineInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A sampling request or a training recipe with a field out of bounds. */
export class RequestError extends EngineInputError {}

/** A UNet config (diffusers' config.json keys) that the engine cannot build. */
export class ConfigError extends EngineInputError {}

/** A checkpoint's files are missing, malformed, or do not fit the model they describe. */
export class CheckpointError extends EngineInputError {}

/**
 * A result that is not finite (NaN or infinite sprites): reported rather than returned as blank
 * images. Input to the engine (a model's weights, a request) drove it out of float32's range.
 */
export class NonFiniteResultError extends EngineInputError {}
