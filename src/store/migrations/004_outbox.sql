-- Outbox delivery (issue 5). A reply's status is one of
--   pending  waiting for its first attempt or for next_attempt_at after a transient failure
--   sent     accepted by the SMTP server (or written to the outbox folder)
--   failed   refused for good (a 5xx answer), or still undelivered after the give-up time
--   held     over the per-recipient rate limit: kept for staff, never sent automatically
-- server_response keeps the server's answer to the accepted reply (its queue id), to trace a
-- reply in the mail server's logs.
ALTER TABLE outbox ADD COLUMN server_response TEXT;
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
