// Configuration from the environment (app settings on Azure, local.settings.json / the shell
// locally), validated once with zod. Every variable is documented in docs/configuration.md.
import { z } from 'zod';

const csv = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );

export const ConfigSchema = z.object({
  DAG_WORKFLOWS_DIR: z.string().default('./workflows'),
  DAG_ACTIVITY_QUEUES: csv('functionapp-tasks'),
  DAG_CONTAINER_QUEUE: z.string().default('container-tasks'),
});

export type Config = z.infer<typeof ConfigSchema>;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const r = ConfigSchema.safeParse(env);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}. See docs/configuration.md.`);
  }
  return r.data;
}
