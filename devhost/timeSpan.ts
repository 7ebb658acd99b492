// .NET TimeSpan strings as used in host.json ("00:00:30", "1.02:03:04", "00:00:00.100") and
// number-of-milliseconds values (older host.json files write maxPollingInterval: 2000).

export function parseTimeSpanMs(value: string | number, where: string): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0)
      throw new Error(`${where}: expected a non-negative duration, got ${value}`);
    return value;
  }
  const m = /^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$/.exec(value.trim());
  if (!m) {
    throw new Error(`${where}: "${value}" is not a TimeSpan; write it as "hh:mm:ss" or "d.hh:mm:ss[.fff]"`);
  }
  const [, neg, d, h, min, s, frac] = m;
  const ms =
    Number(d ?? 0) * 86_400_000 +
    Number(h) * 3_600_000 +
    Number(min) * 60_000 +
    Number(s ?? 0) * 1000 +
    (frac ? Math.round(Number(`0.${frac}`) * 1000) : 0);
  if (neg) throw new Error(`${where}: negative durations are not allowed ("${value}")`);
  return ms;
}

/** Formats milliseconds as a .NET TimeSpan string ("d.hh:mm:ss[.fff]"). */
export function formatTimeSpan(ms: number): string {
  const d = Math.floor(ms / 86_400_000);
  let rest = ms - d * 86_400_000;
  const h = Math.floor(rest / 3_600_000);
  rest -= h * 3_600_000;
  const m = Math.floor(rest / 60_000);
  rest -= m * 60_000;
  const s = Math.floor(rest / 1000);
  const f = rest - s * 1000;
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d ? `${d}.` : ''}${p(h)}:${p(m)}:${p(s)}${f ? `.${String(f).padStart(3, '0')}` : ''}`;
}
