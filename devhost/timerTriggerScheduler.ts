// Timer triggers: NCRONTAB (or TimeSpan) schedules from the trigger's `schedule` (app settings
// resolved), `runOnStartup`, no overlapping runs of the same function (the host holds a singleton
// lock per timer function). Schedules are evaluated in UTC.
import { resolveAppSettings, type Env } from './appSettings';
import { DevHostError, errorMessage } from './devHostError';
import type { FunctionInvoker } from './functionInvoker';
import type { Registration } from './loadApp';
import type { Logger } from './logger';
import { nextOccurrence, parseSchedule, type Schedule } from './ncrontab';
import type { OutputBindings } from './outputBindings';

export interface TimerSchedulerOptions {
  registrations: Map<string, Registration>;
  invoker: FunctionInvoker;
  outputs: OutputBindings;
  env: Env;
  logger: Logger;
  enabled: boolean;
}

interface TimerEntry {
  reg: Registration;
  schedule: Schedule;
  runOnStartup: boolean;
  started: Date;
  last: Date | undefined;
  next: Date | undefined;
  handle: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
}

export class TimerTriggerScheduler {
  private readonly entries = new Map<string, TimerEntry>();
  private stopped = false;

  constructor(private readonly o: TimerSchedulerOptions) {
    for (const reg of o.registrations.values()) {
      if (reg.kind !== 'timer') continue;
      const where = `timer function '${reg.name}'`;
      const source = resolveAppSettings(String(reg.trigger.schedule ?? ''), o.env, `${where} schedule`);
      let schedule: Schedule;
      try {
        schedule = parseSchedule(source);
      } catch (err) {
        throw new DevHostError('config', `${where}: ${errorMessage(err)}`, { cause: err });
      }
      const now = new Date();
      this.entries.set(reg.name, {
        reg,
        schedule,
        runOnStartup: reg.trigger.runOnStartup === true,
        started: now,
        last: undefined,
        next: undefined,
        handle: undefined,
        running: undefined,
      });
    }
  }

  start(): void {
    if (!this.o.enabled) return;
    for (const e of this.entries.values()) {
      if (e.runOnStartup) void this.run(e, false);
      this.arm(e);
    }
  }

  /** Stops scheduling and waits up to graceMs for running timer functions. */
  async stop(graceMs = 5000): Promise<void> {
    this.stopped = true;
    for (const e of this.entries.values()) clearTimeout(e.handle);
    const running = [...this.entries.values()].map((e) => e.running);
    await Promise.race([Promise.allSettled(running), new Promise((r) => setTimeout(r, graceMs).unref())]);
  }

  /** Runs the function now, waiting for it to finish. */
  async fire(name: string): Promise<void> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`No timer-triggered function named '${name}'`);
    if (e.running) await e.running;
    await this.run(e, false);
  }

  private arm(e: TimerEntry): void {
    if (this.stopped) return;
    const next = nextOccurrence(e.schedule, new Date(), e.started);
    e.next = next;
    if (!next) return;
    const delay = Math.min(Math.max(0, next.getTime() - Date.now()), 3_600_000);
    e.handle = setTimeout(() => {
      if (Date.now() + 5 < next.getTime()) return this.arm(e); // long wait split in hourly steps
      if (!e.running) void this.run(e, false);
      else this.o.logger.warn(`timer '${e.reg.name}' skipped a run: the previous one is still running`);
      this.arm(e);
    }, delay);
  }

  private run(e: TimerEntry, isPastDue: boolean): Promise<void> {
    const now = new Date();
    const timerInfo = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: (e.last ?? new Date(0)).toISOString(),
        Next: (nextOccurrence(e.schedule, now, e.started) ?? now).toISOString(),
        LastUpdated: now.toISOString(),
      },
      IsPastDue: isPastDue,
    };
    e.last = now;
    const p = (async () => {
      try {
        const res = await this.o.invoker.invoke(e.reg.name, [
          { name: e.reg.triggerBinding, data: { json: JSON.stringify(timerInfo) } },
          ...this.o.outputs.extraInputs(e.reg),
        ]);
        if (!res.ok) this.o.logger.warn(`Timer function '${e.reg.name}' failed: ${res.error.message}`);
        else await this.o.outputs.write(e.reg, res.response);
      } catch (err) {
        this.o.logger.warn(`Timer function '${e.reg.name}' failed: ${errorMessage(err)}`);
      } finally {
        e.running = undefined;
      }
    })();
    e.running = p;
    return p;
  }
}
