-- Conversations: a ticket can be linked to an earlier one, and a follow-up
-- to a closed ticket either reopens it or opens a new linked ticket.

-- The earlier ticket this one is linked to: set when the processor opened
-- a new ticket because the sender of a reply was not on the old one, or
-- when the sink opened one for a follow-up to a closed ticket. Empty when
-- the ticket stands alone.
ALTER TABLE tickets ADD COLUMN linked_ticket_ref text NOT NULL DEFAULT '';

CREATE INDEX tickets_tenant_linked_idx ON tickets (tenant, linked_ticket_ref)
    WHERE linked_ticket_ref <> '';

-- 'reopened': a follow-up set a closed ticket back to open.
-- 'linked': a follow-up to this closed ticket went to a new ticket, named
-- in the payload.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_check
    CHECK (kind IN ('created', 'routed', 'reassigned', 'replied', 'closed', 'reopened', 'linked'));
