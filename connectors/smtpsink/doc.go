// Package smtpsink sends the automatic replies of mailtriage.autoreplies.v1
// and the agent replies of mailtriage.outbound.v1 through an SMTP relay,
// at most once per command, and applies the limits that need counts
// across messages to the automatic replies.
//
// # Who decides what
//
// The inbound topic is keyed by tenant/messageId, so the processor sees
// one sender's messages on many partitions and cannot count them. The
// processor's AutoReplyGuard applies the checks that depend only on the
// message (Auto-Submitted, Precedence, list headers, loop markers, null
// return path, system and no-reply senders, reports, failed
// authentication, spam, follow-ups, rules) and records each suppression
// as the tag "autoreply:suppressed:REASON" on the DecisionEvent. This
// topic is keyed by tenant and recipient hash, so one recipient's commands
// arrive in order on one partition, and PostgreSQL is shared by every sink
// instance. The sink therefore applies the suppression list and the rate
// limits, inside the transaction that claims the command, and records each
// suppression in the ledger with its reason.
//
// # Protocol
//
// For each record, in offset order:
//
//  1. Decode the command, render its templates and mint its Message-ID. A
//     record that cannot be decoded or rendered becomes a dead letter.
//  2. In one PostgreSQL transaction: lock the partition's row in
//     consumer_offsets and skip the record if the stored offset is past
//     it. Otherwise, if autoreply_deliveries has the command's eventId in
//     any state, send nothing (a replay); a row still sending is marked
//     unknown. Otherwise take the tenant's advisory lock, check the
//     suppression list and the rate limits, and insert the row as
//     suppressed (with the reason) or sending. Store the next offset and
//     commit.
//  3. For a sending row, open a session with the relay. A 4xx reply or a
//     connection that fails before the end of the data is retried with
//     exponential backoff up to RetryPolicy.MaxAttempts sessions. A 5xx
//     reply, or the last failed attempt, marks the row failed and writes a
//     dead letter in the same transaction; the dead letter goes through
//     dead_letter_outbox, so a crash cannot lose it. Acceptance marks the
//     row sent.
//
// # Crashes and stops
//
// The ledger follows the rule of the Slack sink's ledger: a row left
// sending is never sent again. At start-up every sending row becomes
// unknown and is logged once; a claim that finds a sending row does the
// same. The window between the claim's commit and the relay's reply is
// therefore at-most-once: a SIGKILL inside it can lose one reply but never
// send it twice. A connection that breaks after the end of the data, when
// the relay may have queued the message, also ends in unknown. Outside
// that window a crash, restart or replay sends nothing twice, because the
// offsets and the ledger rows commit together.
//
// A graceful stop (ctx canceled) is not a crash: a session under way
// finishes and its outcome is recorded, and a reply waiting between two
// retries is released. Its row is deleted and the stored offset moved back
// to it in one transaction, so the next run sends it.
//
// Several instances may share the tables. One instance's start-up marks
// the rows another is sending unknown; that one still records sent when
// its relay accepts.
//
// # Agent replies
//
// The sink also consumes mailtriage.outbound.v1 in the same group, and
// sends each OutboundMessage (an agent reply written through the ticket
// API) with the Message-ID, subject and threading headers it carries.
// Agent replies follow the protocol above with three differences. They
// skip the suppression list and the rate limits, because a person wrote
// them. Their ledger rows have kind agent_reply, which the rate-limit
// counts skip. They carry the loop marker but not the headers of
// automatic responses. Both topics share one poll loop and one relay, so
// a relay outage or a long retry delays both.
//
// # Tables
//
// The tables come from migrations 0005_autoreply.sql and
// 0009_outbound_ledger.sql of the ticket sink (package postgres), which
// Run applies: autoreply_deliveries (the
// ledger), autoreply_suppressions (the suppression list, see Suppress),
// consumer_offsets and dead_letter_outbox, both shared with the ticket
// sink under another consumer_group.
package smtpsink
