/** Every bus topic name is built here and nowhere else. */
export const TOPICS = {
  /** Signed signals, keyed by stream so a stream's order is kept in one partition. */
  signals: 'signals',
  /** Signed control messages (breaker, eligibility, heartbeats), keyed by kind and scope. */
  control: 'control',
  /** Device telemetry and decision reports, keyed by device id. Never carries keys. */
  telemetry: 'device-telemetry',
  /** Market data shared by datafeeds, signed like their signals (`createCandle`), keyed by symbol. */
  candles: 'candles',
  /** A simulator run's jobs, keyed by jobId; consumed by the simulator nodes as one group. */
  simulatorJobs: 'simulator-jobs',
  /** Each job's result, keyed by runId, read by the run's coordinator. */
  simulatorResults: 'simulator-results',
  /**
   * Each datafeed's signed report on its venue, candles and house portfolio every period
   * (`createFeedReport`), keyed by origin; read by the control server's circuit breaker.
   */
  feedReports: 'feed-reports',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

/** Partition counts used when a topic is created. */
export const TOPIC_PARTITIONS: Record<TopicName, number> = {
  signals: 3,
  control: 1,
  'device-telemetry': 3,
  candles: 3,
  // More partitions than nodes, so a group of simulator nodes can share a run's jobs.
  'simulator-jobs': 12,
  'simulator-results': 3,
  'feed-reports': 3,
};
