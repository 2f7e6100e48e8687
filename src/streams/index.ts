/** Streams that drive the daemons: configuration reload, cron schedules, the database change log. */
export { watchConfig } from './config-watch.js';
export type { ConfigUpdate, WatchConfigOptions } from './config-watch.js';
export { clockScheduler, schedulerFor } from './clock-scheduler.js';
export type { TimeSource } from './clock-scheduler.js';
export { cronSchedule, nextTime, InvalidCronExpression } from './schedules.js';
export type { CronScheduleOptions } from './schedules.js';
export { pollChanges } from './changes.js';
export type { ChangeSource, PollChangesOptions } from './changes.js';
