-- The SMTP sink also sends the replies that agents write through the
-- ticket API (mailtriage.outbound.v1). They share the delivery ledger of
-- the automatic acknowledgements, and so its crash rule and start-up
-- recovery, but they must not count against the rate limits of automatic
-- replies: the kind column tells the two apart, and the rate-limit
-- counts read only acknowledgement rows.
ALTER TABLE autoreply_deliveries
    ADD COLUMN kind text NOT NULL DEFAULT 'acknowledgement'
    CHECK (kind IN ('acknowledgement', 'agent_reply'));
