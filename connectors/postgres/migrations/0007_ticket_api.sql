-- The ticket API: bearer tokens scoped to a tenant, the responses kept
-- for Idempotency-Key retries, an outbox for the Kafka records the API
-- writes, and the columns and event kinds of agent replies, notes and
-- status changes.

-- One row per API token. Only the hex SHA-256 of the token is stored, so
-- a copy of the table does not let anyone call the API. The name is the
-- actor of the token's changes ("api:NAME") and is unique per tenant.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant       text        NOT NULL,
    name         text        NOT NULL,
    token_sha256 text        NOT NULL CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    scopes       text[]      NOT NULL DEFAULT '{tickets:read,tickets:write}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz, -- NULL while the token is valid
    CONSTRAINT api_tokens_token_sha256_key UNIQUE (token_sha256),
    CONSTRAINT api_tokens_tenant_name_key UNIQUE (tenant, name)
);

-- The first response to each POST that carried an Idempotency-Key, per
-- token. The row is written in the transaction of the change, so a retry
-- either finds the response or finds no change at all. Rows older than
-- 24 hours are ignored and purged.
CREATE TABLE api_idempotency_keys (
    token_id     bigint      NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    key          text        NOT NULL,
    request_hash text        NOT NULL, -- hex SHA-256 of method, path and body
    status       integer     NOT NULL,
    body         bytea       NOT NULL, -- the JSON response body as sent
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, key)
);

CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);

-- Kafka records waiting to be produced: the outbound commands of agent
-- replies, and the ticket events of the API's changes. A row is written
-- in the transaction of the change and deleted once Kafka has
-- acknowledged the record, so a crash in between sends it again with the
-- same event ID and never loses it.
CREATE TABLE api_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text        NOT NULL,
    event_id     text        NOT NULL,
    record_key   bytea       NOT NULL,
    record_value bytea       NOT NULL, -- Avro single-object encoding
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT api_outbox_topic_event_id_key UNIQUE (topic, event_id)
);

-- An agent reply is an outbound message with an HTML body and an author.
ALTER TABLE ticket_messages
    ADD COLUMN html   text NOT NULL DEFAULT '',
    ADD COLUMN author text NOT NULL DEFAULT ''; -- such as api:TOKEN-NAME; empty for inbound mail

-- The time of the first agent reply, for the first-response time. NULL
-- until an agent replies.
ALTER TABLE tickets ADD COLUMN first_response_at timestamptz;

-- Keyset pagination of the ticket list, newest first, and the requester
-- filter, which compares lower-case addresses.
CREATE INDEX tickets_tenant_created_id_idx ON tickets (tenant, created_at DESC, id DESC);
CREATE INDEX tickets_tenant_requester_idx ON tickets (tenant, lower(requester_address));

-- 'status_changed': an agent set the status; the payload has from and to.
-- 'note': an internal note, never sent to the requester. The other kinds
-- are those of the earlier migrations, 0006 included.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_check
    CHECK (kind IN ('created', 'routed', 'reassigned', 'replied', 'closed', 'reopened', 'linked', 'rerouted',
                    'status_changed', 'note'));
