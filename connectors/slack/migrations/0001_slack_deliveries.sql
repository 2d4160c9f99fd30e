-- The delivery ledger of the Slack sink: one row per notification EventID.
-- The sink inserts a row as pending right before the first webhook post and
-- never posts a notification whose row exists in any state.
CREATE TABLE IF NOT EXISTS slack_deliveries (
    event_id     text        PRIMARY KEY,
    tenant       text        NOT NULL,
    status       text        NOT NULL
                 CHECK (status IN ('pending', 'delivered', 'failed', 'unknown')),
    attempts     integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);

-- Start-up recovery scans the pending rows only.
CREATE INDEX IF NOT EXISTS slack_deliveries_pending
    ON slack_deliveries (event_id) WHERE status = 'pending';

-- Operators look up a tenant's deliveries by time.
CREATE INDEX IF NOT EXISTS slack_deliveries_tenant_created
    ON slack_deliveries (tenant, created_at);
