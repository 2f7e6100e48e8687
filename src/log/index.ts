export { Logging, type Logger } from './logging.js';
export { loadLogSettings, LogConfigError, DEFAULT_LOG_SETTINGS, type LogSettings } from './settings.js';
