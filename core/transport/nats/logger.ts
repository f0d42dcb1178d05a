/** Where the NATS transport reports what it drops or retries (it never throws from a callback). */
export interface NatsTransportLogger {
  warn(message: string): void;
  error(message: string): void;
}

export const consoleLogger: NatsTransportLogger = {
  warn: (message) => console.warn(`[fedmkt nats] ${message}`),
  error: (message) => console.error(`[fedmkt nats] ${message}`),
};
