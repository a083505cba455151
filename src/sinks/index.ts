/** Sinks beyond the output formats: Prometheus metrics, NATS JetStream, the live web view. */
export { registerEventMetrics, EventMetrics, type EventMetricsOptions, type SinkCounts } from './metrics.js';
export { registerNatsMetrics } from './nats-metrics.js';
export { listenHttp, serveMetrics, type HttpListener, type ListenAddress } from './http.js';
export { NatsPublisher, defaultIdPrefix, type NatsSinkOptions, type NatsStats } from './nats.js';
export {
  ensureStream, findStream, defaultSubject, subjectProblem, subjectToken, messageRecord,
  DEFAULT_STREAM, DUPLICATE_WINDOW_MS, type NatsFormat,
} from './nats-stream.js';
export { WebView, type WebViewOptions } from './web.js';
export { WebState, type WebStateOptions, type Tick, type Hello, type RingRow } from './web-state.js';
export { fieldGetter, labelValue, type FieldGetter } from './fields.js';
export { LabelLimiter, TopValues, OTHER, type TopEntry } from './top-values.js';
