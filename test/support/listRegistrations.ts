// Run as a child process: loads an app entry through the dev host's registration capture (as the
// Functions host's Node worker would) and prints every function with its trigger and bindings, plus the
// project modules the load pulled in and the environment variables it read. Usage:
//   node --import tsx test/support/listRegistrations.ts <entry>
import Module from 'node:module';
import path from 'node:path';
import { loadApp } from '../../devhost/loadApp';

const reads = new Set<string>();
const env = process.env;
// A read that follows the key's descriptor is a walk over every setting (Object.entries, a spread:
// the secret scrubber registers every secret value); only named reads count as reading a setting.
let described: string | symbol | undefined;
process.env = new Proxy(env, {
  getOwnPropertyDescriptor(t, k) {
    described = k;
    return Reflect.getOwnPropertyDescriptor(t, k);
  },
  get(t, k) {
    if (typeof k === 'string' && k !== described) reads.add(k);
    described = undefined;
    return Reflect.get(t, k);
  },
});
const entry = path.resolve(process.argv[2]!);
const app = loadApp(entry);
const root = path.join(__dirname, '..', '..');
const cache = (Module as unknown as { _cache: Record<string, unknown> })._cache;
const modules = Object.keys(cache)
  .filter((f) => f.startsWith(root) && !f.includes(`${path.sep}node_modules${path.sep}`))
  .map((f) => path.relative(root, f));
process.stdout.write(
  JSON.stringify({
    functions: [...app.registrations.values()]
      .map((r) => ({
        name: r.name,
        kind: r.kind,
        trigger: { ...r.trigger, name: undefined },
        inputs: Object.keys(r.inputs).sort(),
        outputs: Object.keys(r.outputs).sort(),
      }))
      .sort((a, b) => a.name.localeCompare(b.name)),
    modules,
    envReads: [...reads].sort(),
  }),
);
