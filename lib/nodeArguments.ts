// The V8 flags the product's Node processes run with in Azure: the Function App's worker
// (the `languageWorkers__node__arguments` app setting, infra/main.bicep), the container worker (its
// image's CMD, container-worker/Dockerfile), and every benchmark (bench/run.ts), so that what is
// measured is what is deployed. test/infra/bicep.test.ts holds the three to this list.
//
// A 64 MiB young-generation semi-space, where V8's default is 16 MiB: a runner call takes 100 fan-out
// children at once, and their rows, promises and results outlive a 16 MiB nursery, so they are copied,
// promoted and collected again in the old generation. Application Insights adds a context to every
// promise and doubles that cost. Measured on the 10,000-child fan-out (bench/results/
// telemetry-fanout-10k.json): faster with telemetry off, and telemetry's cost cut from about 12 % to
// about 5 %. The price is memory: at most 3 × 64 MiB of young generation per process.

/** The flags, in the order they are passed to `node`. */
export const NODE_ARGUMENTS: readonly string[] = ['--max-semi-space-size=64'];
