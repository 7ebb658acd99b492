// The fan-out workflow of the fan-out benchmarks (dag-e2e, telemetry-fanout): `inputs.n` echo children,
// no retries, joined by the first output.
export const FAN_WORKFLOW = {
  workflow_id: 'bench_fan',
  name: 'fan',
  inputs: { n: { type: 'integer' } },
  nodes: {
    start: { type: 'start', next: 'split' },
    split: {
      type: 'fan_out',
      source: '{{ range(0, inputs.n) }}',
      task: { handler: 'echo', params: { i: '{{ index }}' }, retry: { max_attempts: 0 } },
      next: 'join',
    },
    join: { type: 'fan_in', aggregation: 'first', next: 'end' },
    end: { type: 'end' },
  },
};
