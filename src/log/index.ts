export { Logging, type Logger } from './logging.js';
export { loadLogSettings, LogConfigError, DEFAULT_LOG_SETTINGS, LOG_FORMATS, type LogFormat, type LogSettings } from './settings.js';
