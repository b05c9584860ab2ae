// The candidate pipeline of a simulation: the live policy stages compiled from candidate settings, authentication replaced by the recorded identities.
import { silentLogger } from '../../core/logger.js';
import { composePipeline } from '../../core/pipeline.js';
import type { Settings } from '../../core/settings/schema.js';
import type { CompileCandidate } from '../../core/simulation/simulate.js';
import { policyStages } from './compile.js';

/**
 * Compile `settings` once into the stages the gateway runs (same order, same compiled lists),
 * with the simulation's clock and limiter, and its authenticate stand-in in place of the real
 * stage: no provider is started and no token index is read.
 */
export const compileCandidate =
  (settings: Settings): CompileCandidate =>
  ({ clock, rateLimiter, authenticate }) =>
    composePipeline(
      policyStages(settings, [], { logger: silentLogger, clock, rateLimiter }).map((stage) =>
        stage.name === 'authenticate' ? authenticate : stage,
      ),
    );
