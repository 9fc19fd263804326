-- Cache purges, so every node applies the ones another node (or the admin API) made.
-- `node` is the process that made it (it purged its own cache at once).
CREATE TABLE cache_purges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
