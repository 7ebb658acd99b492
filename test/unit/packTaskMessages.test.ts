// How the enqueue activity packs task messages into queue messages (docs/messages.md "Batches of
// tasks"), and how the worker reads them back.
import { describe, expect, it } from 'vitest';
import { packTaskMessages } from '../../activities/packTaskMessages';
import { decodeTaskMessages, encodeQueueMessage } from '../../container-worker/taskMessageCodec';
import { encodedMessageBytes, QUEUE_MESSAGE_MAX_BYTES } from '../../lib/containerMessages';

interface Item {
  queue: string;
  message: { task_id: string; pad: string };
}
const item = (queue: string, i: number, padBytes = 10): Item => ({
  queue,
  message: { task_id: `t${i}`, pad: 'x'.repeat(padBytes) },
});
const pack = (items: Item[], per: (q: string) => number) =>
  packTaskMessages(
    items,
    (x) => x.queue,
    (x) => x.message,
    per,
  ).map((p) => p.map((x) => x.message.task_id));

describe('packTaskMessages', () => {
  it('packs in order, per queue, at most the limit per message', () => {
    const items = [0, 1, 2, 3, 4].map((i) => item('a', i)).concat([item('b', 5), item('a', 6), item('b', 7)]);
    expect(pack(items, () => 2)).toEqual([
      ['t0', 't1'],
      ['t2', 't3'],
      ['t4', 't6'],
      ['t5', 't7'],
    ]);
    expect(pack(items, (q) => (q === 'a' ? 16 : 1))).toEqual([
      ['t0', 't1', 't2', 't3', 't4', 't6'],
      ['t5'],
      ['t7'],
    ]);
    // At most 64 whatever is asked; at least 1.
    expect(
      pack(
        [...Array(70).keys()].map((i) => item('a', i)),
        () => 1000,
      ).map((p) => p.length),
    ).toEqual([64, 6]);
    expect(pack([item('a', 0), item('a', 1)], () => 0)).toEqual([['t0'], ['t1']]);
  });

  it('keeps every batch within a queue message once encoded, to the byte', () => {
    // Tasks of about 6 KiB: how many fit is decided by the size, checked against the real encoding.
    const items = [...Array(30).keys()].map((i) => item('a', i, 6000 + i * 37));
    const packs = packTaskMessages(
      items,
      (x) => x.queue,
      (x) => x.message,
      () => 64,
    );
    expect(packs.length).toBeGreaterThan(1);
    for (const [k, p] of packs.entries()) {
      const bytes = encodedMessageBytes({ v: 1, tasks: p.map((x) => x.message) });
      expect(bytes).toBeLessThanOrEqual(QUEUE_MESSAGE_MAX_BYTES);
      // Full: the next task would not have fitted.
      const next = packs[k + 1]?.[0];
      if (next)
        expect(encodedMessageBytes({ v: 1, tasks: [...p, next].map((x) => x.message) })).toBeGreaterThan(
          QUEUE_MESSAGE_MAX_BYTES,
        );
    }
    expect(packs.flat().map((x) => x.message.task_id)).toEqual(items.map((x) => x.message.task_id));
    // A message that fills a queue message alone goes alone.
    let pad = 40_000;
    while (encodedMessageBytes({ v: 1, tasks: [item('a', 99, pad + 1).message] }) <= QUEUE_MESSAGE_MAX_BYTES)
      pad++;
    const big = item('a', 99, pad);
    expect(pack([item('a', 0), big, item('a', 1)], () => 16)).toEqual([['t0'], ['t99'], ['t1']]);
  });
});

describe('decodeTaskMessages', () => {
  const task = {
    v: 1,
    task_id: 'j_n_0',
    job_id: 'j',
    node_id: 'n',
    attempt: 0,
    handler: 'echo',
    params: {},
    timeout_seconds: 60,
    deadline: '2026-12-07T00:00:00.000Z',
    dispatched_at: '2026-12-07T00:00:00.000Z',
    reply_to: 'i',
    result_queue: 'results',
  };

  it('reads a plain task message as one task and a batch as its tasks, each validated alone', () => {
    const one = decodeTaskMessages(encodeQueueMessage(task));
    expect(one).toMatchObject({ ok: true, batch: false, tasks: [{ raw: task, decoded: { ok: true } }] });
    const bad = { ...task, task_id: 'j_n2_0', node_id: 'n2', attempt: -1 };
    const many = decodeTaskMessages(encodeQueueMessage({ v: 1, tasks: [task, bad] }));
    expect(many).toMatchObject({
      ok: true,
      batch: true,
      tasks: [
        { raw: task, decoded: { ok: true, message: { task_id: 'j_n_0' } } },
        { raw: bad, decoded: { ok: false } },
      ],
    });
    if (!many.ok) throw new Error('unreachable');
    expect(many.tasks[1]!.decoded).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /^tasks\[1\]: the message is not a valid container task message \(attempt/,
      ),
    });
  });

  it('refuses a batch that is not one, naming why', () => {
    expect(decodeTaskMessages(encodeQueueMessage({ v: 1, tasks: [] }))).toEqual({
      ok: false,
      error:
        'the message is not a valid batch of container tasks (tasks: Too small: expected array to have >=1 items)',
    });
    expect(decodeTaskMessages(encodeQueueMessage({ v: 2, tasks: [task] }))).toMatchObject({ ok: false });
    expect(decodeTaskMessages('not base64!')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/not base64/),
    });
  });
});
