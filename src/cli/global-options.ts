import type { LogFormat } from '../log/index.js';
/** Options every program shares, with upstream's defaults. */
export interface GlobalOptions {
  config: string;
  secure?: string;
  logconfig?: string;
  debug?: boolean;
  /** `--log-format`: over the logging configuration's and the terminal's choice. */
  logFormat?: LogFormat;
}

export const DEFAULT_CONFIG_FILE = '/etc/nodepool/nodepool.yaml';
export const DEFAULT_SECURE_FILE = '/etc/nodepool/secure.conf';
