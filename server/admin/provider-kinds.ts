// GET /api/v1/provider-kinds: every installed kind with its configuration as JSON Schema, so a console can draw a form for any kind, a plugin's too.
import type Router from '@koa/router';
import type { PluginLookup } from '../../core/commands.js';
import type { AdminState } from './context.js';

export interface ProviderKindRoutesDeps {
  readonly plugins: PluginLookup;
}

interface JsonSchemaConverter {
  readonly jsonSchema?: { input(options: { target: string }): Record<string, unknown> };
}

/**
 * The schema's input as JSON Schema, through the Standard JSON Schema interface (zod 4 and others
 * implement it next to Standard Schema); null for a schema that does not, or cannot say.
 */
export function configJsonSchema(schema: unknown): Record<string, unknown> | null {
  const standard = (schema as { '~standard'?: JsonSchemaConverter } | null)?.['~standard'];
  if (!standard?.jsonSchema) return null;
  try {
    return standard.jsonSchema.input({ target: 'draft-2020-12' });
  } catch {
    return null;
  }
}

export function registerProviderKindRoutes(api: Router<AdminState>, { plugins }: ProviderKindRoutesDeps): void {
  api.get('/provider-kinds', (ctx) => {
    const kinds = [...plugins.kinds()]
      .sort()
      .map((kind) => {
        const plugin = plugins.get(kind)!;
        return { kind, description: plugin.description ?? '', secretFields: plugin.secretFields ?? [], configSchema: configJsonSchema(plugin.configSchema) };
      });
    ctx.body = { kinds };
  });
}
