// NCRONTAB schedules as the Functions timer trigger reads them: six fields
// "{second} {minute} {hour} {day} {month} {day-of-week}" with *, a-b, lists, steps (*/5, 1-30/2)
// and month/day names; or a TimeSpan ("00:05:00") meaning "every interval". Evaluated in UTC.
// Day-of-month and day-of-week must both match (NCrontab semantics, unlike Vixie cron's OR).
import { parseTimeSpanMs } from './timeSpan';

export type Schedule =
  { kind: 'cron'; fields: Set<number>[]; source: string } | { kind: 'interval'; ms: number; source: string };

const ranges: [number, number][] = [
  [0, 59], // second
  [0, 59], // minute
  [0, 23], // hour
  [1, 31], // day
  [1, 12], // month
  [0, 6], // day of week (0 = Sunday)
];
const monthNames = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const dayNames = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export function parseSchedule(source: string): Schedule {
  const text = source.trim();
  if (/^\d+(\.\d+)?:\d{1,2}(:\d{1,2})?$/.test(text) || /^\d+\.\d{1,2}:\d{1,2}:\d{1,2}$/.test(text)) {
    const ms = parseTimeSpanMs(text, `timer schedule "${source}"`);
    if (ms <= 0) throw new Error(`timer schedule "${source}": the interval must be positive`);
    return { kind: 'interval', ms, source };
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 6) {
    throw new Error(
      `timer schedule "${source}": expected 6 NCRONTAB fields "{second} {minute} {hour} {day} {month} {day-of-week}" ` +
        `(e.g. "0 */5 * * * *"), got ${parts.length}`,
    );
  }
  const fields = parts.map((p, i) => parseField(p, i, source));
  return { kind: 'cron', fields, source };
}

function parseField(field: string, index: number, source: string): Set<number> {
  const [min, max] = ranges[index]!;
  const names = index === 4 ? monthNames : index === 5 ? dayNames : undefined;
  const value = (token: string): number => {
    const upper = token.toUpperCase();
    if (names) {
      const i = names.indexOf(upper.slice(0, 3));
      if (i >= 0 && /^[A-Z]+$/.test(upper)) return index === 4 ? i + 1 : i;
    }
    if (!/^\d+$/.test(token)) throw new Error(`timer schedule "${source}": "${token}" is not a valid value`);
    let n = Number(token);
    if (index === 5 && n === 7) n = 0;
    if (n < min || n > max) throw new Error(`timer schedule "${source}": ${n} is outside ${min}-${max}`);
    return n;
  };
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const [rangePart, stepPart] = item.split('/');
    const step = stepPart === undefined ? 1 : Number(stepPart);
    if (!Number.isInteger(step) || step <= 0)
      throw new Error(`timer schedule "${source}": bad step in "${item}"`);
    let lo: number;
    let hi: number;
    if (rangePart === '*' || rangePart === '?') {
      lo = min;
      hi = max;
    } else if (rangePart!.includes('-')) {
      const [a, b] = rangePart!.split('-');
      lo = value(a!);
      hi = value(b!);
    } else {
      lo = value(rangePart!);
      hi = stepPart === undefined ? lo : max;
    }
    if (lo > hi) throw new Error(`timer schedule "${source}": range ${lo}-${hi} is empty`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** The first occurrence strictly after `after` (or undefined within the next 5 years). */
export function nextOccurrence(
  schedule: Schedule,
  after: Date,
  intervalStart: Date = after,
): Date | undefined {
  if (schedule.kind === 'interval') {
    const elapsed = after.getTime() - intervalStart.getTime();
    const n = Math.floor(elapsed / schedule.ms) + 1;
    return new Date(intervalStart.getTime() + n * schedule.ms);
  }
  const [sec, min, hour, day, month, dow] = schedule.fields as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  const t = new Date(Math.floor(after.getTime() / 1000) * 1000 + 1000);
  const limit = after.getTime() + 5 * 366 * 86_400_000;
  while (t.getTime() <= limit) {
    if (!month.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!day.has(t.getUTCDate()) || !dow.has(t.getUTCDay())) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!hour.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!min.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    if (!sec.has(t.getUTCSeconds())) {
      t.setUTCSeconds(t.getUTCSeconds() + 1, 0);
      continue;
    }
    return t;
  }
  return undefined;
}
