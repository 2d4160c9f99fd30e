-- Reassignment feedback. A ticket keeps the whole original decision, so
-- that a reassignment can report what the classifier decided and why, and
-- each reassignment leaves a feedback event in an outbox that the sink
-- produces to Kafka.

ALTER TABLE tickets
    ADD COLUMN reason_top_labels jsonb            NOT NULL DEFAULT '[]', -- [{"label": ..., "probability": ...}], highest first
    ADD COLUMN reason_threshold  double precision NOT NULL DEFAULT 0,    -- model confidence threshold in force; 0 without a model
    ADD COLUMN reason_detail     text             NOT NULL DEFAULT '';

-- Feedback events waiting to be produced to the feedback topic. A row is
-- written in the transaction that reassigns the ticket and deleted once
-- Kafka has acknowledged the record, so a crash between the two steps
-- sends the event a second time with the same event ID, and never loses
-- it.
CREATE TABLE feedback_outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text        NOT NULL,
    record_key   bytea       NOT NULL, -- tenant/ticketRef
    record_value bytea       NOT NULL, -- the FeedbackEvent in Avro single-object encoding
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feedback_outbox_event_id_key UNIQUE (event_id)
);
