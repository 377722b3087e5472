-- Replies composed when they are delivered, not when the mail is taken: the intake writes the
-- reply's envelope (Message-ID, recipients, held or not) with the mail's result, plus what the
-- reply needs to be composed (the outcome, as JSON); the bytes are filled in, and the draft
-- cleared, before the reply is first delivered. Rows with a draft are never delivered.
ALTER TABLE outbox ADD COLUMN draft TEXT;
