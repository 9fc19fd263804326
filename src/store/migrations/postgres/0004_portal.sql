-- Developer portal (DESIGN §4): accounts, their sign-in sessions, their apps (each app is a
-- consumer of the consumers table, named app-<id>) and the apps' subscriptions. Times are unix
-- milliseconds. Secrets are never stored: passwords as argon2id PHC strings, session tokens
-- as sha256 hex.
CREATE TABLE portal_accounts (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES portal_accounts(id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX portal_sessions_account ON portal_sessions(account_id);

CREATE TABLE portal_apps (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES portal_accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    consumer TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);
CREATE INDEX portal_apps_account ON portal_apps(account_id);

-- status: pending (the plan needs an operator's approval), approved or rejected.
CREATE TABLE portal_subscriptions (
    id TEXT PRIMARY KEY,
    app_id TEXT NOT NULL REFERENCES portal_apps(id) ON DELETE CASCADE,
    api TEXT NOT NULL,
    version TEXT NOT NULL,
    plan TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    UNIQUE (app_id, api, version)
);
CREATE INDEX portal_subscriptions_status ON portal_subscriptions(status);

-- Process-independent secrets (the key that signs the sign-in forms' CSRF tokens), made once by
-- the first node that needs one, so every node behind a balancer accepts the others' forms.
CREATE TABLE portal_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
