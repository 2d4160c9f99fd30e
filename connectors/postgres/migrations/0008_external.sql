-- Ledgers of the sinks that deliver to external systems: the ticketing
-- sink (Zendesk, Jira Service Management, a generic REST API), the CRM
-- sink and the Microsoft Teams sink. The ticketing and CRM sinks keep
-- their Kafka offsets in consumer_offsets and write these rows in the
-- same transaction as the offset of the record that produced them.

-- One row per ticket of the topology in one external system. The row is
-- inserted as 'creating' before the create request is sent, and becomes
-- 'created' with the external ID in the transaction that stores the
-- offset. A row found 'creating' means the outcome of a create is not
-- known, so the sink looks the ticket up by idempotency_key before it
-- sends a create again.
CREATE TABLE external_tickets (
    system          text        NOT NULL, -- name of the external system, such as 'zendesk'
    tenant          text        NOT NULL,
    ticket_ref      text        NOT NULL,
    idempotency_key text        NOT NULL, -- tenant/ticketRef, stored in the external ticket
    create_event_id text        NOT NULL, -- eventId of the command that created it
    state           text        NOT NULL CHECK (state IN ('creating', 'created')),
    external_id     text        NOT NULL DEFAULT '',
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (system, tenant, ticket_ref),
    CONSTRAINT external_tickets_created_has_id CHECK (state = 'creating' OR external_id <> '')
);

-- One row per follow-up (append command) posted as a comment, keyed by
-- the command's eventId, with the same 'posting' -> 'posted' protocol.
CREATE TABLE external_comments (
    system      text        NOT NULL,
    event_id    text        NOT NULL,
    tenant      text        NOT NULL,
    ticket_ref  text        NOT NULL,
    external_id text        NOT NULL, -- of the ticket the comment belongs to
    state       text        NOT NULL CHECK (state IN ('posting', 'posted')),
    attempts    integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (system, event_id)
);

-- One row per requester in one CRM, keyed by the hex SHA-256 of the
-- lower-cased address, so the table holds no address. ticket_refs lists
-- the tickets attached to the contact, in the order they arrived.
CREATE TABLE crm_contacts (
    system       text        NOT NULL,
    tenant       text        NOT NULL,
    address_hash text        NOT NULL CHECK (address_hash ~ '^[0-9a-f]{64}$'),
    state        text        NOT NULL CHECK (state IN ('creating', 'created')),
    external_id  text        NOT NULL DEFAULT '',
    ticket_refs  text[]      NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (system, tenant, address_hash)
);

-- The delivery ledger of the Teams sink: one row per notification
-- eventId, with the states and rules of the Slack sink's ledger.
CREATE TABLE teams_deliveries (
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

CREATE INDEX teams_deliveries_pending ON teams_deliveries (event_id) WHERE status = 'pending';
