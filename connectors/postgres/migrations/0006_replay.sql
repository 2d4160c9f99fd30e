-- 'rerouted': a replay of the command that opened a ticket (after an
-- offset reset or a dead-letter replay) came with another routing
-- decision. The payload names the old and new queue, priority and
-- ruleset version, and whether the ticket took the new routing or kept
-- its own because a person had already worked on it.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_check
    CHECK (kind IN ('created', 'routed', 'reassigned', 'replied', 'closed', 'reopened', 'linked', 'rerouted'));
