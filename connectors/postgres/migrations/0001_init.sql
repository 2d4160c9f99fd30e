-- Tickets, their messages and events, and the Kafka offsets of the sink.
-- Every row that a Kafka record creates carries the record's event ID
-- under a unique constraint, so that replaying a record changes nothing.

CREATE TABLE tickets (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant            text        NOT NULL,
    ticket_ref        text        NOT NULL,
    external_id       text        NOT NULL, -- message ID of the first message
    status            text        NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'pending', 'solved', 'closed')),
    queue             text        NOT NULL,
    priority          text        NOT NULL,
    tags              text[]      NOT NULL DEFAULT '{}',
    requester_name    text        NOT NULL DEFAULT '',
    requester_address text        NOT NULL DEFAULT '',
    subject           text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    reason_kind       text        NOT NULL DEFAULT '',
    reason_rule_id    text        NOT NULL DEFAULT '',
    ruleset_version   text        NOT NULL DEFAULT '',
    model_version     text        NOT NULL DEFAULT '',
    CONSTRAINT tickets_tenant_ticket_ref_key UNIQUE (tenant, ticket_ref)
);

CREATE INDEX tickets_tenant_status_idx ON tickets (tenant, status);
CREATE INDEX tickets_tenant_queue_idx ON tickets (tenant, queue);
CREATE INDEX tickets_created_at_idx ON tickets (created_at);

CREATE TABLE ticket_events (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind      text        NOT NULL
              CHECK (kind IN ('created', 'routed', 'reassigned', 'replied', 'closed')),
    event_id  text        NOT NULL,
    payload   jsonb       NOT NULL DEFAULT '{}',
    at        timestamptz NOT NULL,
    CONSTRAINT ticket_events_event_id_key UNIQUE (event_id)
);

CREATE INDEX ticket_events_ticket_at_idx ON ticket_events (ticket_id, at);

CREATE TABLE ticket_messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id       bigint      NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    message_id      text        NOT NULL,
    event_id        text        NOT NULL,
    direction       text        NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    subject         text        NOT NULL DEFAULT '',
    text            text        NOT NULL DEFAULT '',
    reply_text      text        NOT NULL DEFAULT '',
    attachments     jsonb       NOT NULL DEFAULT '[]',
    raw_storage_key text,       -- object storage key of the raw MIME; NULL when not stored
    received_at     timestamptz NOT NULL,
    CONSTRAINT ticket_messages_event_id_key UNIQUE (event_id)
);

CREATE INDEX ticket_messages_ticket_received_idx ON ticket_messages (ticket_id, received_at);
CREATE INDEX ticket_messages_message_id_idx ON ticket_messages (message_id);

-- The position of each connector in each topic partition: the offset of
-- the next record to apply. It is written in the same transaction as the
-- rows, so the rows and the position never disagree.
CREATE TABLE consumer_offsets (
    consumer_group text        NOT NULL, -- connector name, also its Kafka consumer group
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
