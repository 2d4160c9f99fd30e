-- The suppression list and the delivery ledger of the SMTP sink, which
-- sends the automatic acknowledgements. The sink keeps its Kafka offsets
-- in consumer_offsets and its dead letters in dead_letter_outbox, like the
-- ticket sink, under its own consumer_group.

-- Addresses that never get an automatic reply. Tenant '*' applies to
-- every tenant. Addresses are stored in lower case.
CREATE TABLE autoreply_suppressions (
    tenant     text        NOT NULL,
    address    text        NOT NULL CHECK (address = lower(address)),
    reason     text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, address)
);

-- One row per AutoReply command, keyed by its idempotency key. A command
-- whose row exists in any state is never sent again. The recipient is kept
-- as the hex SHA-256 of the lower-case address, which the rate limit per
-- recipient needs, never as the address.
CREATE TABLE autoreply_deliveries (
    event_id         text        PRIMARY KEY,
    tenant           text        NOT NULL,
    ticket_ref       text        NOT NULL,
    recipient_hash   text        NOT NULL,
    state            text        NOT NULL
                     CHECK (state IN ('sending', 'sent', 'failed', 'unknown', 'suppressed')),
    reason           text        NOT NULL DEFAULT '', -- suppression reason code, or the last send error
    message_id       text        NOT NULL DEFAULT '', -- Message-ID of the reply, without angle brackets
    attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    source_partition integer     NOT NULL,
    source_offset    bigint      NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    sent_at          timestamptz
);

-- The rate limits count the rows that are sending, sent or unknown, per
-- recipient, ticket and tenant, over a window of created_at.
CREATE INDEX autoreply_deliveries_recipient_idx ON autoreply_deliveries (tenant, recipient_hash, created_at)
    WHERE state IN ('sending', 'sent', 'unknown');
CREATE INDEX autoreply_deliveries_ticket_idx ON autoreply_deliveries (tenant, ticket_ref, created_at)
    WHERE state IN ('sending', 'sent', 'unknown');
CREATE INDEX autoreply_deliveries_tenant_idx ON autoreply_deliveries (tenant, created_at)
    WHERE state IN ('sending', 'sent', 'unknown');

-- Start-up recovery scans the rows a stopped sink left sending.
CREATE INDEX autoreply_deliveries_sending_idx ON autoreply_deliveries (event_id)
    WHERE state = 'sending';
