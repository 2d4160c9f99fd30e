-- Dead letters waiting to be produced to Kafka. A record that cannot be
-- applied is written here in the transaction that moves the offset past
-- it, and deleted once Kafka has acknowledged it, so a crash between the
-- two steps leads to a second copy on the DLQ topic, never to a lost one.

CREATE TABLE dead_letter_outbox (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    consumer_group text        NOT NULL,
    event_id       text        NOT NULL,
    topic          text        NOT NULL, -- the DLQ topic
    record_key     bytea,
    record_value   bytea       NOT NULL,
    headers        jsonb       NOT NULL DEFAULT '[]', -- [{"key": ..., "value": ...}], in order
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT dead_letter_outbox_event_key UNIQUE (consumer_group, event_id)
);
