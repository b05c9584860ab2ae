// Master switch: with authentication disabled, every request passes untouched (and is still audited).
import { allow } from '../core/access.js';
import type { Stage } from '../core/pipeline.js';

export interface MasterSwitchConfig {
  readonly enabled: boolean;
}

export function masterSwitch(config: MasterSwitchConfig): Stage {
  const disabled = allow('auth_disabled', 'authentication is disabled by the master switch');
  return {
    name: 'master_switch',
    run: (_request, _state, next) => (config.enabled ? next() : disabled),
  };
}
