// The one logger (lib/io/logger.ts) and its two settings: the app's (handlers/createLogger.ts) and the
// dev host's (devhost/logger.ts). What they share: the level threshold, one line per record, JSON or
// text, child fields, errors that keep their message.
import { describe, expect, it } from 'vitest';
import { createLogger as createDevHostLogger } from '../../devhost/logger';
import { createLogger as createAppLogger } from '../../handlers/createLogger';
import { createLogger, parseLogLevel } from '../../lib/io/logger';

describe('lib/io/logger', () => {
  it('writes records at or above the level, one line each, with the fields of its children', () => {
    const lines: Array<[string, string]> = [];
    const log = createLogger({ level: 'info', format: 'json', write: (l, lvl) => lines.push([lvl, l]) });
    log.debug('dropped');
    log.child({ job_id: 'j1' }).warn('kept', { node_id: 'n' });
    expect(lines).toHaveLength(1);
    expect(lines[0]![0]).toBe('warn');
    expect(JSON.parse(lines[0]![1])).toMatchObject({
      level: 'warn',
      message: 'kept',
      job_id: 'j1',
      node_id: 'n',
    });
  });

  it('text lines carry the prefix, the level and the fields; an Error keeps its message', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'text', prefix: '[x]', write: (l) => lines.push(l) });
    log.error('failed', { error: new Error('boom') });
    expect(lines[0]).toMatch(/^\[x\] \d{4}-\d\d-\d\dT\S+ ERROR failed \{"error":\{"message":"boom"/);
  });

  it('a record hook may add fields or take the line (telemetry), and scrub rewrites the line', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      format: 'json',
      write: (l) => lines.push(l),
      onRecord: (_lvl, message, fields) => ({
        fields: { ...fields, op: 'o1' },
        writeLine: message !== 'elsewhere',
      }),
      scrub: (l) => l.replace('s3cret', '***'),
    });
    log.info('elsewhere');
    log.info('here', { password: 's3cret' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'here', op: 'o1', password: '***' });
  });

  it('reads levels as people write them', () => {
    expect(['WARNING', 'trace', 'off', 'Error', 'nope'].map(parseLogLevel)).toEqual([
      'warn',
      'debug',
      'silent',
      'error',
      undefined,
    ]);
  });
});

describe('the settings of the app and of the dev host', () => {
  it('app: LOG_LEVEL and LOG_FORMAT (and their DAG_ aliases) from the settings it is given', () => {
    const lines: string[] = [];
    const log = createAppLogger({ app: 'a' }, { DAG_LOG_LEVEL: 'WARNING', DAG_LOG_FORMAT: 'JSON' }, (l) =>
      lines.push(l),
    );
    log.info('dropped');
    log.warn('kept');
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([
      { level: 'warn', message: 'kept', app: 'a' },
    ]);
  });

  it('dev host: text lines start with [devhost]; an explicit level wins over the default', () => {
    const lines: string[] = [];
    const log = createDevHostLogger({ level: 'debug', format: 'text', write: (l) => lines.push(l) });
    log.debug('hello', { port: 1 });
    expect(lines).toEqual([expect.stringMatching(/^\[devhost\] \S+ DEBUG hello \{"port":1\}$/)]);
  });
});
