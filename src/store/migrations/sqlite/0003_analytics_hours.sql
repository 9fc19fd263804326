-- Hours rolled up from every node's minute rows, once per hour (`analytics_rolled` holds the
-- claim: the node whose insert wins does the roll-up, in the same transaction). Kept longer
-- than minute rows (`[analytics] hour_retention`).
CREATE TABLE analytics_hours (
    hour INTEGER NOT NULL,
    api TEXT NOT NULL,
    version TEXT NOT NULL,
    operation TEXT NOT NULL,
    consumer TEXT NOT NULL,
    status_class TEXT NOT NULL,
    count INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    bytes_in INTEGER NOT NULL,
    bytes_out INTEGER NOT NULL,
    latency_hist TEXT NOT NULL,
    PRIMARY KEY (hour, api, version, operation, consumer, status_class)
);
CREATE TABLE analytics_rolled (
    hour INTEGER PRIMARY KEY
);
