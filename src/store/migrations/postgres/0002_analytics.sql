-- Usage rollups: one row per minute, node and (API, version, operation, consumer, status class).
-- Each gateway process writes only its own rows (`node`), always the minute's running total,
-- so no row is ever read and modified by two writers. `latency_hist` is a JSON array of counts
-- per latency bucket (`store::hist::BOUNDS_MS`), mergeable by adding.
CREATE TABLE analytics_minutes (
    minute BIGINT NOT NULL,
    node TEXT NOT NULL,
    api TEXT NOT NULL,
    version TEXT NOT NULL,
    operation TEXT NOT NULL,
    consumer TEXT NOT NULL,
    status_class TEXT NOT NULL,
    count BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    bytes_in BIGINT NOT NULL,
    bytes_out BIGINT NOT NULL,
    latency_hist TEXT NOT NULL,
    PRIMARY KEY (minute, node, api, version, operation, consumer, status_class)
);
CREATE INDEX analytics_minutes_minute ON analytics_minutes(minute);
